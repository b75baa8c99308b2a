//! `run [-- HOST-ARGS...]`: the host under supervision.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::cli::Shell;
use crate::supervise::RunOptions;

pub fn run(
    context: &Context,
    options: &RunOptions,
    metrics: Option<std::net::SocketAddr>,
    args: &[OsString],
) -> Result<ExitCode> {
    let home = context.existing_home()?;
    if let Some(address) = metrics {
        let bound = crate::metrics::serve(address)?;
        context
            .printer
            .status("Serving", format!("metrics at http://{bound}/metrics"));
    }
    if args.is_empty() {
        // The host then prints its own usage; say what to give it here.
        context.printer.warn(
            "no host arguments: give them after `--`, e.g. `scopectl run -- run --input testsrc --pipeline invert --output -` (`scopectl pipelines` lists the pipelines)",
        );
    }
    crate::supervise::supervise(&home, options, args, &context.printer)
}

/// `env`: the line that puts `<home>/bin` on PATH, as rustup's `env` does.
pub fn env(context: &Context, shell: Shell) -> Result<ExitCode> {
    let bin = crate::home::Home::at(&context.settings.home)
        .root()
        .join("bin");
    let quoted = format!("'{}'", bin.display().to_string().replace('\'', "'\\''"));
    match shell {
        Shell::Sh => println!("export PATH={quoted}\":$PATH\""),
        Shell::Fish => println!("set -gx PATH {quoted} $PATH"),
    }
    Ok(ExitCode::SUCCESS)
}
