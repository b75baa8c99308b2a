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
    // The SDK goes where the plugin's build output goes: disposable, and
    // never inside what the plugin's repository tracks.
    let target = match &context.settings.build.target_dir {
        Some(target) => context.settings.working_dir.join(target),
        None => dir.join("target"),
    };
    let sdk = embedded::write_sdk(&target.join("scope-sdk"))?;
    let patch = |name: &str, path: &Path| {
        format!(
            "patch.crates-io.{name}.path={}",
            toml_edit::Value::from(path.to_string_lossy().as_ref())
        )
    };
    let mut cargo = std::process::Command::new(&context.settings.build.cargo);
    cargo
        .current_dir(&dir)
        .arg("test")
        .arg("--config")
        .arg(patch("scope-plugin-api", &sdk.plugin_api));
    // The harness too, for a plugin that uses it (a patch nothing uses
    // would make cargo warn).
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml"))?;
    if manifest.contains("scope-plugin-test") {
        cargo
            .arg("--config")
            .arg(patch("scope-plugin-test", &sdk.plugin_test));
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
