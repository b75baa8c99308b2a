//! `sync`, `build` and `reload`: bring the active generation to what
//! `plugins.toml` says, or rebuild it.

use std::process::ExitCode;

use anyhow::Result;
use scope_lockfile::PluginSpec;

use super::{render, Context};
use crate::ops::change::{change, not_installed, ChangeRequest};
use crate::output::error::Hinted;

pub fn sync(context: &Context) -> Result<ExitCode> {
    let home = context.home()?;
    let request = ChangeRequest::sync();
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context, &home))
}

/// Downloads everything resolved.lock needs.
pub fn fetch(context: &Context) -> Result<ExitCode> {
    let home = context.home()?;
    let fetched = crate::ops::fetch::fetch(&home, &context.settings, context.reporter())?;
    context.printer.status(
        "Fetched",
        format!(
            "{} plugin(s) and the {} crates of the host's graph; `scopectl sync --frozen` needs no network now",
            fetched.plugins, fetched.crates
        ),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn build(context: &Context) -> Result<ExitCode> {
    let home = context.home()?;
    let mut request = ChangeRequest::sync();
    request.rebuild = true;
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context, &home))
}

/// Rebuilds an editable plugin from its directory.
pub fn reload(context: &Context, name: &str) -> Result<ExitCode> {
    let home = context.home()?;
    let name = scope_name::PluginName::new(name)?;
    let desired = home.plugins_toml()?;
    match desired.plugins().get(&name) {
        Some(PluginSpec::Path { .. }) => {}
        Some(_) => {
            return Err(Hinted::new(
                format!("`{name}` is not editable: only local (path) plugins are reloaded from their directory"),
                format!("move it to a newer version with `scopectl update {name}`"),
            )
            .into())
        }
        None => return Err(not_installed(&name, desired.plugins().keys())),
    }
    context.printer.status("Reloading", &name);
    build(context)
}
