//! `scopectl demo`: the example plugins, a host built with them, and a video.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use scope_lockfile::{CratePin, Lockfile, Pin, PinSource, PluginSpec, PluginsToml};

use crate::cli::{DemoArgs, GlobalArgs};
use crate::embedded;
use crate::fsx;
use crate::generation::NewGeneration;
use crate::home::Home;
use crate::host_build::{HostBuilder, Profile};
use crate::plugin_crate::PluginCrate;
use crate::printer::Printer;

const CHAIN: [&str; 2] = ["color-generator", "invert"];
const COLOR: [(&str, u8); 3] = [("color_r", 230), ("color_g", 120), ("color_b", 40)];

pub fn demo(global: &GlobalArgs, args: &DemoArgs, printer: &Printer) -> Result<ExitCode> {
    let root = match &global.home {
        Some(home) => home.clone(),
        None => Home::default_root()?.join("demo"),
    };
    let home = Home::open(&root)?;
    let started = Instant::now();

    printer.status(
        "Preparing",
        format!(
            "example plugins in {}",
            home.root().join("examples").display()
        ),
    );
    let plugins = embedded::write_examples(&home.root().join("examples"))?
        .iter()
        .map(|dir| PluginCrate::read(dir))
        .collect::<Result<Vec<_>>>()?;
    let plugins_toml = plugins_toml(&home, &plugins);

    let names: Vec<String> = plugins
        .iter()
        .map(|p| format!("{} v{}", p.name, p.version))
        .collect();
    printer.status("Building", format!("host with {}", names.join(", ")));
    let builder =
        HostBuilder::for_build_dir(&home.build_dir(), Profile::from_env()?, global.offline);
    let built = builder.build(&plugins, printer)?;

    let generation = match reusable_generation(&home, &built.binary)? {
        Some(n) => {
            printer.status("Fresh", format!("generation {n} already has this host"));
            n
        }
        None => {
            let n = home.generations()?.last().map_or(1, |last| last + 1);
            let lock = resolved_lock(&plugins, &built.cargo_lock)?;
            NewGeneration {
                host: &built.binary,
                plugins_toml: &plugins_toml,
                resolved_lock: &lock,
                command: "scopectl demo".into(),
                changes: names.iter().map(|n| format!("+ {n}")).collect(),
            }
            .create(&home, n)?;
            fsx::write_atomic(&home.plugins_toml(), plugins_toml.as_bytes())?;
            fsx::write_atomic(&home.resolved_lock(), lock.as_bytes())?;
            home.activate(n)?;
            printer.status("Activated", format!("generation {n}"));
            n
        }
    };

    let output = args
        .output
        .clone()
        .unwrap_or_else(|| home.root().join("demo.y4m"));
    let host = home.host_path();
    let run_args = run_args(args.frames, &output);
    printer.status(
        "Running",
        format!("{} → {}", CHAIN.join(" → "), output.display()),
    );
    let status = Command::new(&host)
        .args(&run_args)
        .status()
        .with_context(|| format!("cannot start `{}`", host.display()))?;
    if !status.success() {
        bail!("the host exited with {status} while writing the demo video");
    }
    printer.status(
        "Finished",
        format!("demo in {:.1} s", started.elapsed().as_secs_f64()),
    );

    let shown_args = run_args
        .iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ");
    let host_shown = shell_word(host.as_os_str().to_string_lossy().as_ref());
    println!(
        "Wrote {} frames of 512x512 video to {}",
        args.frames,
        output.display()
    );
    println!(
        "Home {} is at generation {generation}. Its pipelines and their parameters:",
        home.root().display()
    );
    println!();
    println!("  {host_shown} pipelines");
    println!();
    println!("To do it by hand:");
    println!("  {host_shown} {shown_args}");
    println!(
        "  ffplay {}        # or: mpv {}",
        output.display(),
        output.display()
    );
    println!("  {host_shown} run --input testsrc --pipeline invert --pipeline temporal-blend --frames 120 --output - | ffplay -");
    Ok(ExitCode::SUCCESS)
}

fn run_args(frames: u64, output: &Path) -> Vec<String> {
    let mut args = vec!["run".to_owned()];
    for id in CHAIN {
        args.extend(["--pipeline".to_owned(), id.to_owned()]);
    }
    args.extend([
        "--frames".into(),
        frames.to_string(),
        "--size".into(),
        "512x512".into(),
    ]);
    for (key, v) in COLOR {
        args.extend(["--set".into(), format!("{key}={v}")]);
    }
    args.extend(["--output".into(), output.to_string_lossy().into_owned()]);
    args
}

/// The active generation, when its host is byte-identical to the new build.
fn reusable_generation(home: &Home, binary: &Path) -> Result<Option<u64>> {
    let Some(current) = home.current() else {
        return Ok(None);
    };
    let active = home.generation_dir(current).join(crate::home::HOST_BINARY);
    let same = match (fs_err::read(&active), fs_err::read(binary)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    Ok(same.then_some(current))
}

fn plugins_toml(home: &Home, plugins: &[PluginCrate]) -> String {
    let mut file = PluginsToml::empty(&home.plugins_toml());
    for plugin in plugins {
        file.set(
            &plugin.name,
            PluginSpec::Path {
                path: plugin.dir.clone(),
            },
        );
    }
    format!("# The scopectl demo: the example plugins that ship inside scopectl.\n{file}")
}

/// The pins of the example plugins and the crate graph cargo locked for the host.
fn resolved_lock(plugins: &[PluginCrate], cargo_lock: &Path) -> Result<String> {
    let text = fs_err::read_to_string(cargo_lock)?;
    let lock = Lockfile {
        host_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))?,
        api_version: semver::Version::parse(scope_plugin_api::API_VERSION)?,
        plugins: plugins
            .iter()
            .map(|p| {
                Ok(Pin {
                    name: p.name.clone(),
                    version: semver::Version::parse(&p.version)?,
                    source: PinSource::Path {
                        path: p.dir.clone(),
                    },
                    dependencies: Vec::new(),
                })
            })
            .collect::<Result<_>>()?,
        crates: CratePin::from_cargo_lock(cargo_lock, &text)?,
    };
    Ok(lock.to_toml())
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
