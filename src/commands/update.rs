//! `update [NAME...] [--dry-run]` and `update --check [--json]`.

use std::process::ExitCode;

use super::{render, Context};
use crate::documents::to_line;
use crate::home::Home;
use crate::ops::change::change;
use crate::ops::check::updates;
use crate::ops::requests::{self, names};
use anyhow::Result;

/// Exit status when updates are available.
const UPDATES: u8 = 10;

/// Moves the named plugins (all when none are named) to the newest
/// versions the constraints allow.
pub fn update(
    context: &Context,
    wanted: &[String],
    dry_run: bool,
    grant: crate::capability::Grant,
) -> Result<ExitCode> {
    let home = if dry_run {
        Home::at(&context.settings.home)
    } else {
        context.home()?
    };
    let mut request = requests::update(&home, wanted, dry_run)?;
    request.grant = grant;
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context))
}

/// Reports available updates: exit 10 when there are some, 1 when a check failed.
pub fn check(context: &Context, wanted: &[String], json: bool) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let (settings, reporter) = (&context.settings, context.reporter());
    let document = updates(&home, settings, reporter, &names(wanted)?)?;
    if let Some(err) = &document.crates_error {
        context
            .printer
            .warn(format!("cannot check the host's crates: {err}"));
    }
    if json {
        println!("{}", to_line(&document));
    } else {
        print_updates(&document);
    }
    if settings.offline {
        context.printer.status(
            "Offline",
            "compared with the cached index entries and git remotes",
        );
    }
    Ok(if document.failed() {
        ExitCode::FAILURE
    } else if document.has_updates() {
        ExitCode::from(UPDATES)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_updates(document: &crate::documents::UpdatesDocument) {
    for row in &document.plugins {
        let state = match (row.update_available, &row.error) {
            (_, Some(e)) => format!("check failed: {e}"),
            (Some(true), _) => format!(
                "update available: {}",
                row.newest_compatible.as_deref().unwrap_or("?")
            ),
            (Some(false), _) => "up to date".into(),
            (None, _) => "skipped".into(),
        };
        println!("{} {}  {state}", row.name, row.installed);
        if let Some(reason) = &row.reason {
            println!("    {reason}");
        }
    }
    for krate in &document.crates {
        println!(
            "crate {} {}  update available: {}",
            krate.name, krate.installed, krate.newest_compatible
        );
    }
    let short = |sha: &Option<String>| match sha {
        Some(sha) => format!("sha256 {}…", &sha[..sha.len().min(12)]),
        None => "none".to_owned(),
    };
    for artifact in &document.artifacts {
        println!(
            "artifact `{}` of {}  changes: {} -> {}",
            artifact.name,
            artifact.plugin,
            short(&artifact.installed),
            short(&artifact.updated)
        );
    }
}
