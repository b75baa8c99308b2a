//! `sync`, `build` and `reload`: bring the active generation to what
//! `plugins.toml` says, or rebuild it.

use std::process::ExitCode;

use anyhow::Result;

use super::{render, Context};
use crate::ops::change::{change, ChangeRequest};
use crate::ops::requests;

pub fn sync(context: &Context, dry_run: bool, grant: crate::capability::Grant) -> Result<ExitCode> {
    let home = context.home()?;
    let mut request = ChangeRequest::sync();
    request.grant = grant;
    if dry_run {
        request.mode = crate::ops::change::Mode::DryRun;
    }
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context))
}

/// Downloads everything resolved.lock needs.
pub fn fetch(context: &Context) -> Result<ExitCode> {
    let home = context.home()?;
    let fetched = crate::ops::fetch::fetch(&home, &context.settings, context.reporter())?;
    let artifacts = match fetched.artifacts {
        0 => String::new(),
        n => format!(", {n} artifact(s)"),
    };
    context.printer.status(
        "Fetched",
        format!(
            "{} plugin(s){artifacts} and the {} crates of the host's graph; `scopectl sync --frozen` needs no network now",
            fetched.plugins, fetched.crates
        ),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn build(context: &Context, force: bool) -> Result<ExitCode> {
    let home = context.home()?;
    let mut request = requests::build();
    request.force = force;
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context))
}

/// Rebuilds an editable plugin from its directory.
pub fn reload(context: &Context, name: &str, force: bool) -> Result<ExitCode> {
    let home = context.home()?;
    let mut request = requests::reload(&home, name)?;
    request.force = force;
    context.printer.status("Reloading", name);
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context))
}
