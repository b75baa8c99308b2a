//! The change requests behind `install`, `uninstall`, `update`, `sync`,
//! `build` and `reload`, checked as the CLI checks them: the CLI and the
//! HTTP API (`scopectl serve`) build them here, so both mean the same.

use anyhow::Result;
use scope_lockfile::PluginSpec;
use scope_name::PluginName;
use scope_resolver::Unlock;

use crate::error::Hinted;
use crate::home::Home;
use crate::ops::change::{not_installed, ChangeRequest, Edit, Mode, Wanted};
use crate::ops::sources::recorded;
use crate::settings::Settings;
use crate::spec::{self, RefFlags};

/// `install SPEC…`: specs are checked before the lock is taken, so a typo
/// never waits.
pub fn install(
    settings: &Settings,
    specs: &[String],
    registry: Option<&str>,
    flags: &RefFlags,
    mode: Mode,
) -> Result<ChangeRequest> {
    let mut wanted = Vec::new();
    for text in specs {
        let requested = spec::parse(text, registry, flags)?;
        wanted.push(Wanted {
            name: requested.name,
            spec: recorded(requested.spec, settings)?,
            rev_to_classify: requested.rev_to_classify,
        });
    }
    let mut request = ChangeRequest::edit(Edit::Install(wanted));
    request.mode = mode;
    Ok(request)
}

/// Parses plugin names as typed.
pub fn names(names: &[String]) -> Result<Vec<PluginName>> {
    Ok(names
        .iter()
        .map(|n| PluginName::new(n))
        .collect::<Result<_, _>>()?)
}

/// `uninstall NAME…`.
pub fn uninstall(removing: &[String]) -> Result<ChangeRequest> {
    Ok(ChangeRequest::edit(Edit::Uninstall(names(removing)?)))
}

/// `update [NAME…]`: the named plugins (all, when none) may move.
pub fn update(home: &Home, wanted: &[String], dry_run: bool) -> Result<ChangeRequest> {
    let wanted = names(wanted)?;
    let unlock = if wanted.is_empty() {
        Unlock::All
    } else {
        let installed: Vec<_> = home
            .lock_file()?
            .map(|l| l.plugins.into_iter().map(|p| p.name).collect())
            .unwrap_or_default();
        if let Some(missing) = wanted.iter().find(|n| !installed.contains(n)) {
            return Err(not_installed(missing, installed.iter()));
        }
        Unlock::Plugins(wanted.into_iter().collect())
    };
    let mut request = ChangeRequest::sync();
    request.unlock = unlock;
    if dry_run {
        request.mode = Mode::DryRun;
    }
    Ok(request)
}

/// `build`: the active pins, rebuilt.
pub fn build() -> ChangeRequest {
    let mut request = ChangeRequest::sync();
    request.rebuild = true;
    request
}

/// `reload NAME`: a rebuild, for an editable (path) plugin only.
pub fn reload(home: &Home, name: &str) -> Result<ChangeRequest> {
    let name = PluginName::new(name)?;
    let desired = home.plugins_toml()?;
    match desired.plugins().get(&name) {
        Some(PluginSpec::Path { .. }) => Ok(build()),
        Some(_) => Err(Hinted::new(
            format!("`{name}` is not editable: only local (path) plugins are reloaded from their directory"),
            format!("move it to a newer version with `scopectl update {name}`"),
        )
        .into()),
        None => Err(not_installed(&name, desired.plugins().keys())),
    }
}
