//! One function per command. Each takes resolved settings and a printer and
//! returns an exit status; the work happens in the library modules.

mod change;
pub mod check;
pub mod completions;
mod demo;
mod doctor;
mod gc;
mod history;
mod list;
mod new;
mod rollback;

use std::process::ExitCode;

use crate::cli::{Cli, ColorChoice, Command};
use crate::printer::{Printer, Verbosity};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let verbosity = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let color = match cli.global.color {
        ColorChoice::Auto => None,
        ColorChoice::Always => Some(true),
        ColorChoice::Never => Some(false),
    };
    let printer = Printer::new(verbosity, color);
    let result = match cli.command {
        Command::Demo(args) => demo::demo(&cli.global, &args, &printer),
        Command::Install(args) => open_home(&cli.global)
            .and_then(|home| change::install(&home, &cli.global, &args, &printer)),
        Command::Uninstall { names } => open_home(&cli.global)
            .and_then(|home| change::uninstall(&home, &cli.global, &names, &printer)),
        Command::Sync { locked, frozen } => open_home(&cli.global)
            .and_then(|home| change::sync(&home, &cli.global, locked, frozen, &printer)),
        Command::Build => {
            open_home(&cli.global).and_then(|home| change::build(&home, &cli.global, &printer))
        }
        Command::Pipelines { json } => {
            open_home(&cli.global).and_then(|home| list::pipelines(&home, json))
        }
        Command::List { json } => open_home(&cli.global).and_then(|home| list::list(&home, json)),
        Command::Gc { keep } => {
            open_home(&cli.global).and_then(|home| gc::gc(&home, keep, &printer))
        }
        Command::Run { args } => {
            open_home(&cli.global).and_then(|home| crate::supervise::run(&home, &args, &printer))
        }
        Command::Update {
            names,
            check: true,
            json,
            ..
        } => open_home(&cli.global)
            .and_then(|home| check::check(&home, &cli.global, &names, json, &printer)),
        Command::Update { names, dry_run, .. } => open_home(&cli.global)
            .and_then(|home| change::update(&home, &cli.global, &names, dry_run, &printer)),
        Command::New { name, path } => open_home(&cli.global)
            .and_then(|home| new::new(&home, &name, path.as_deref(), &printer)),
        Command::Doctor { repair } => {
            open_home(&cli.global).and_then(|home| doctor::doctor(&home, repair, &printer))
        }
        Command::Completions { shell } => completions::completions(shell),
        Command::Why { name } => {
            open_home(&cli.global).and_then(|home| change::why(&home, &cli.global, &name, &printer))
        }
        Command::Reload { name } => open_home(&cli.global)
            .and_then(|home| change::reload(&home, &cli.global, &name, &printer)),
        Command::Rollback { to } => {
            open_home(&cli.global).and_then(|home| rollback::rollback(&home, to, &printer))
        }
        Command::History { json } => {
            open_home(&cli.global).and_then(|home| history::history(&home, json))
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            crate::error::report(&err, printer.color());
            // A spec that is not a spec is a usage error, like a bad flag.
            if err
                .chain()
                .any(|cause| cause.downcast_ref::<crate::spec::SpecError>().is_some())
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The home of `--home`, `SCOPE_HOME` or `~/.scope`.
fn open_home(global: &crate::cli::GlobalArgs) -> anyhow::Result<crate::home::Home> {
    let root = match &global.home {
        Some(home) => home.clone(),
        None => crate::home::Home::default_root()?,
    };
    crate::home::Home::open(&root)
}

/// Takes the home's lock, saying so when another command holds it.
fn lock_home(home: &crate::home::Home, printer: &Printer) -> anyhow::Result<crate::home::HomeLock> {
    home.lock(crate::home::lock_timeout()?, || {
        printer.blocking(&format!(
            "Blocking: waiting for lock on {}",
            home.root().display()
        ));
    })
}
