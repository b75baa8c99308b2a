//! `scopectl test [DIR] [-- ARGS]`: a plugin crate's own `cargo test`, with
//! the SDK this scopectl carries (and its test harness, `scope-plugin-test`)
//! patched in through cargo's `--config`, so the plugin's repository names
//! no path of any machine.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::embedded;
use crate::error::Hinted;
use crate::host_build::describe_spawn_error;
use crate::policy::Sandbox;
use crate::sandbox::{sandbox_build, BuildPaths, Enforced};

pub fn test(context: &Context, dir: Option<&Path>, args: &[OsString]) -> Result<ExitCode> {
    let dir = dir.unwrap_or(Path::new("."));
    let dir = context.settings.working_dir.join(dir);
    if !dir.join("Cargo.toml").is_file() {
        return Err(Hinted::new(
            format!(
                "`{}` is not a Rust crate: it has no `Cargo.toml`",
                dir.display()
            ),
            "run `scopectl test` in a plugin's directory, or name it: `scopectl test DIR`",
        )
        .into());
    }
    let build = &context.settings.build;
    let sandboxed = build.sandbox != Sandbox::Off;
    // As a host build: everything fetched first, then the tests built and
    // run offline, scrubbed, under Landlock. The plugin's directory (and
    // its target) is writable: tests write golden files.
    if sandboxed && !context.settings.offline {
        let mut fetch = embedded::cargo_with_sdk(&context.settings, &dir)?;
        fetch.arg("fetch");
        let fetched = crate::cancel::status(&mut fetch).map_err(describe_spawn_error)?;
        if !fetched.success() {
            return Ok(ExitCode::from(1));
        }
    }
    let mut cargo = embedded::cargo_with_sdk(&context.settings, &dir)?;
    let target = embedded::target_dir(&context.settings, &dir);
    let tmp = target.join("tmp");
    fs_err::create_dir_all(&tmp)?;
    let paths = BuildPaths::around(
        build,
        &[dir.as_path(), target.as_path()],
        Vec::new(),
        vec![dir.clone(), target.clone()],
    );
    let mut environment = build.environment.clone();
    environment.extend(
        context
            .settings
            .update_golden
            .clone()
            .map(|v| ("UPDATE_GOLDEN".to_owned(), v)),
    );
    let enforced = sandbox_build(
        &mut cargo,
        &environment,
        paths,
        build.sandbox,
        build.sandbox_unsupported,
    )?;
    if let Enforced::EnvironmentOnly(why) = &enforced {
        context.printer.warn(format!(
            "testing without Landlock ({why}): the environment is scrubbed, but build scripts and tests can still read your files and reach the network"
        ));
    }
    if sandboxed {
        cargo.env("TMPDIR", &tmp);
        if let Some(target) = &build.target_dir {
            cargo.env(
                "CARGO_TARGET_DIR",
                context.settings.working_dir.join(target),
            );
        }
    }
    cargo.arg("test");
    if sandboxed {
        cargo.arg("--offline");
    }
    cargo.args(args);
    context.printer.status(
        "Testing",
        format!(
            "{} with scope-plugin-api {}",
            dir.display(),
            scope_plugin_api::API_VERSION
        ),
    );
    let status = crate::cancel::status(&mut cargo).map_err(describe_spawn_error)?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}
