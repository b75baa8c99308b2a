//! One module per command. Each takes a [`Context`] (the resolved settings
//! and the printer) and its own flags, calls an operation in
//! [`crate::ops`], and renders the result: data on stdout, status lines on
//! stderr. The work happens in the operations.

mod build;
mod check;
pub mod completions;
mod ctl;
mod demo;
mod doctor;
mod gc;
mod history;
mod install;
mod list;
mod new;
mod oci;
mod policy;
mod rollback;
mod run;
mod test;
mod update;
mod why;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::home::Home;
use crate::ops::change::Outcome;
use crate::output::error::report;
use crate::output::Printer;
use crate::reporter::Reporter;
use crate::settings::Settings;

/// What every command gets: settings resolved once, and the printer.
pub struct Context {
    /// The settings.
    pub settings: Settings,
    /// The terminal.
    pub printer: Printer,
}

impl Context {
    /// The home, created when missing.
    pub fn home(&self) -> Result<Home> {
        Home::open(&self.settings.home)
    }

    /// The home, which must exist (read-only commands).
    pub fn existing_home(&self) -> Result<Home> {
        Home::existing(&self.settings.home)
    }

    /// The printer as the reporter operations take.
    pub fn reporter(&self) -> Arc<dyn Reporter> {
        Arc::new(self.printer.clone())
    }
}

/// Runs a parsed command line; `argv` is the raw one, for metadata.
pub fn execute(cli: Cli, argv: &[std::ffi::OsString]) -> ExitCode {
    let settings = match Settings::resolve(&cli.global, argv) {
        Ok(settings) => settings,
        Err(err) => {
            report(&err, false);
            return ExitCode::from(2);
        }
    };
    crate::failpoint::arm(settings.failpoint.clone());
    // Commands that own a stream answer signals themselves.
    let owns_signals = matches!(
        cli.command,
        Command::Run { .. } | Command::Serve { .. } | Command::Ctl { .. }
    );
    if !owns_signals {
        if let Err(err) = crate::cancel::install() {
            report(
                &anyhow::Error::new(err).context("cannot handle signals"),
                false,
            );
            return ExitCode::from(1);
        }
    }
    let printer = Printer::new(&settings.output);
    let context = Context { settings, printer };
    let result = match cli.command {
        Command::Demo(args) => demo::demo(&context, &args),
        Command::Install(args) => install::install(&context, &args),
        Command::Uninstall { names } => install::uninstall(&context, &names),
        Command::Sync { dry_run, grant } => grant
            .grant()
            .and_then(|grant| build::sync(&context, dry_run, grant)),
        Command::Fetch => build::fetch(&context),
        Command::Build { force } => build::build(&context, force),
        Command::Reload { name, force } => build::reload(&context, &name, force),
        Command::Pipelines { json } => list::pipelines(&context, json),
        Command::List { json } => list::list(&context, json),
        Command::Gc { keep } => gc::gc(&context, keep),
        Command::Run {
            stream,
            metrics,
            args,
        } => run::run(
            &context,
            &stream.options(context.settings.output.verbosity, &context.settings),
            metrics,
            &args,
        ),
        Command::Ctl { name, verb } => ctl::ctl(&context, &name, verb),
        Command::Export {
            generation,
            output,
            oci_layout,
            tag,
            sign,
            artifacts,
        } => oci::export(
            &context,
            generation,
            output,
            oci_layout,
            &tag,
            sign.as_deref(),
            artifacts,
        ),
        Command::Push {
            reference,
            generation,
            sign,
            artifacts,
        } => oci::push(&context, &reference, generation, sign.as_deref(), artifacts),
        Command::Import { source, verify } => oci::import(&context, &source, &verify),
        Command::Verify { target, key, json } => oci::verify(&context, &target, &key, json),
        Command::Sbom {
            generation,
            format: crate::cli::SbomFormat::CyclonedxJson,
            output,
        } => oci::sbom(&context, generation, output.as_deref()),
        Command::Policy { command } => match command {
            crate::cli::PolicyCommand::Check { json } => policy::check(&context, json),
        },
        Command::Key { command } => match command {
            crate::cli::KeyCommand::Generate { output } => oci::generate_key(&context, &output),
        },
        Command::Serve {
            listen,
            token_file,
            follow,
            interval,
            verify,
            stream,
            args,
        } => context.home().and_then(|home| {
            let mut run = stream.options(context.settings.output.verbosity, &context.settings);
            if follow.is_some() && run.gate.is_none() {
                run.gate = Some(crate::serve::FOLLOW_GATE.parse().expect("a valid gate"));
            }
            let options = crate::serve::ServeOptions {
                listen,
                token_file,
                run,
                follow: follow.map(|tag| crate::serve::follow::FollowOptions {
                    tag,
                    interval,
                    keys: verify
                        .iter()
                        .map(|k| context.settings.working_dir.join(k))
                        .collect(),
                }),
            };
            crate::serve::serve(
                home,
                context.settings.clone(),
                options,
                args,
                context.printer.clone(),
            )
        }),
        Command::Update {
            names,
            check: true,
            json,
            ..
        } => update::check(&context, &names, json),
        Command::Update {
            names,
            dry_run,
            grant,
            ..
        } => grant
            .grant()
            .and_then(|grant| update::update(&context, &names, dry_run, grant)),
        Command::New { name, path } => new::new(&context, &name, path.as_deref()),
        Command::Test { dir, args } => test::test(&context, dir.as_deref(), &args),
        Command::Check { dir, json } => check::check(&context, dir.as_deref(), json),
        Command::Doctor { repair, json } => doctor::doctor(&context, repair, json),
        Command::Completions { shell } => completions::completions(shell),
        Command::Env { shell } => run::env(&context, shell),
        Command::Why { name } => why::why(&context, &name),
        Command::Rollback { to } => rollback::rollback(&context, to),
        Command::History { json } => history::history(&context, json),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            report(&err, context.printer.color());
            // A spec or a name that is not one is a usage error, like a bad flag.
            let usage = err.chain().any(|cause| {
                cause.downcast_ref::<crate::spec::SpecError>().is_some()
                    || cause.downcast_ref::<scope_name::NameError>().is_some()
            });
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// Renders how a change ended: what moved on stdout, status on stderr.
pub fn render(outcome: Outcome, context: &Context) -> ExitCode {
    let printer = &context.printer;
    match outcome {
        Outcome::Unchanged { .. } => printer.status("Fresh", "nothing to change"),
        Outcome::Identical { generation } => printer.status(
            "Fresh",
            format!("the rebuilt host is byte-identical to generation {generation}'s; no new generation (`--force` makes one)"),
        ),
        Outcome::WouldChange(changes) => {
            for change in &changes {
                printer.plan(&change.to_string());
            }
            printer.status(
                "Dry run",
                format!("{} change(s); nothing was touched", changes.len()),
            );
        }
        Outcome::Committed {
            generation,
            changes,
        } => {
            // What moved goes to stdout, as a script would want it.
            for change in &changes {
                printer.plan(&change.to_string());
            }
            printer.status("Activated", format!("generation {generation}"));
        }
        Outcome::Recorded(changes) => {
            for change in &changes {
                printer.plan(&change.to_string());
            }
            printer.status(
                "Recorded",
                "plugins.toml and resolved.lock; run `scopectl sync` to build the host",
            );
        }
    }
    ExitCode::SUCCESS
}
