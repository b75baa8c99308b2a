//! `install` and `uninstall`.

use std::process::ExitCode;

use anyhow::Result;

use super::{names, render, Context};
use crate::cli::InstallArgs;
use crate::home::Home;
use crate::ops::change::{change, ChangeRequest, Edit, Mode, Wanted};
use crate::ops::sources::absolute;
use crate::spec::{self, RefFlags};

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
    // Specs are checked before the lock is taken: a typo never waits.
    let mut wanted = Vec::new();
    for text in &args.specs {
        let requested = spec::parse(text, args.registry.as_deref(), &flags)?;
        wanted.push(Wanted {
            name: requested.name,
            spec: absolute(requested.spec, &context.settings)?,
            rev_to_classify: requested.rev_to_classify,
        });
    }
    let mut request = ChangeRequest::edit(Edit::Install(wanted));
    request.mode = match (args.dry_run, args.no_build) {
        (true, _) => Mode::DryRun,
        (_, true) => Mode::Record,
        _ => Mode::Apply,
    };
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context, &home))
}

pub fn uninstall(context: &Context, removing: &[String]) -> Result<ExitCode> {
    let home = context.home()?;
    let request = ChangeRequest::edit(Edit::Uninstall(names(removing)?));
    let outcome = change(&home, &context.settings, context.reporter(), request)?;
    Ok(render(outcome, context, &home))
}
