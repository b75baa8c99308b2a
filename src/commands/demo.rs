//! `demo`: the example plugins, a host built with them, and a video.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use super::Context;
use crate::cli::DemoArgs;
use crate::home::Home;
use crate::ops::change::{change, ChangeRequest, Outcome};
use crate::ops::demo::{install_examples, run_args, shell_word, write_video, CHAIN};

pub fn demo(context: &Context, args: &DemoArgs) -> Result<ExitCode> {
    // The demo has a home of its own unless told otherwise.
    let settings = if context.settings.home.from == "--home" {
        context.settings.clone()
    } else {
        let root = context.settings.home.root.join("demo");
        context
            .settings
            .with_home(&root, context.settings.home.from)
    };
    let home = Home::open(&settings.home)?;
    let printer = &context.printer;
    let started = Instant::now();

    printer.status(
        "Preparing",
        format!(
            "example plugins in {}",
            home.root().join("examples").display()
        ),
    );
    let request = ChangeRequest::edit(install_examples(&home)?);
    let generation = match change(&home, &settings, context.reporter(), request)? {
        Outcome::Committed { generation, .. } => {
            printer.status("Activated", format!("generation {generation}"));
            generation
        }
        Outcome::Unchanged {
            generation: Some(n),
        } => {
            printer.status("Fresh", format!("generation {n} already has this host"));
            n
        }
        other => anyhow::bail!("the demo's change ended unexpectedly: {other:?}"),
    };

    let output = args
        .output
        .clone()
        .unwrap_or_else(|| home.root().join("demo.y4m"));
    let run_args = run_args(args.frames, &output);
    printer.status(
        "Running",
        format!("{} → {}", CHAIN.join(" → "), output.display()),
    );
    write_video(&home, &run_args)?;
    printer.status(
        "Finished",
        format!("demo in {:.1} s", started.elapsed().as_secs_f64()),
    );

    let shown_args: Vec<String> = run_args.iter().map(|a| shell_word(a)).collect();
    let host = shell_word(&home.host_path().to_string_lossy());
    printer.plan(&format!(
        "Wrote {} frames of 512x512 video to {}",
        args.frames,
        output.display()
    ));
    printer.plan(&format!(
        "Home {} is at generation {generation}. Its pipelines and their parameters:",
        home.root().display()
    ));
    printer.plan("");
    printer.plan(&format!("  {host} pipelines"));
    printer.plan("");
    printer.plan("To do it by hand:");
    printer.plan(&format!("  {host} {}", shown_args.join(" ")));
    printer.plan(&format!(
        "  ffplay {}        # or: mpv {}",
        output.display(),
        output.display()
    ));
    printer.plan(&format!("  {host} run --input testsrc --pipeline invert --pipeline temporal-blend --frames 120 --output - | ffplay -"));
    Ok(ExitCode::SUCCESS)
}
