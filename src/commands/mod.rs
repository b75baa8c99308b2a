//! One function per command. Each takes resolved settings and a printer and
//! returns an exit status; the work happens in the library modules.

mod demo;

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
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            crate::error::report(&err, printer.color());
            ExitCode::FAILURE
        }
    }
}
