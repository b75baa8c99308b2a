//! `install` and `uninstall`.

use std::process::ExitCode;

use anyhow::Result;

use super::{render, Context};
use crate::cli::InstallArgs;
use crate::home::Home;
use crate::ops::change::{change, Mode};
use crate::ops::requests;
use crate::spec::RefFlags;

pub fn install(context: &Context, args: &InstallArgs) -> Result<ExitCode> {
    let home = if args.dry_run {
        Home::at(&context.settings.home)
    } else {
        context.home()?
    };
    let flags = RefFlags {
        branch: args.branch.clone(),
        tag: args.tag.clone(),
        rev: args.rev.clone(),
    };
    let mode = match (args.dry_run, args.no_build) {
        (true, _) => Mode::DryRun,
        (_, true) => Mode::Record,
        _ => Mode::Apply,
    };
    let mut request = requests::install(
        &context.settings,
        &args.specs,
        args.registry.as_deref(),
        &flags,
        mode,
    )?;
    request.grant = args.grant.grant()?;
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context))
}

pub fn uninstall(context: &Context, removing: &[String]) -> Result<ExitCode> {
    let home = context.home()?;
    let request = requests::uninstall(removing)?;
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context))
}
