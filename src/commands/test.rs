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
    let mut cargo = embedded::cargo_with_sdk(&context.settings, &dir)?;
    cargo.arg("test");
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
