//! The `scopectl` executable: reads argv once and hands it to the commands.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let argv = scopectl::settings::Settings::argv();
    let cli = scopectl::cli::Cli::parse_from(&argv);
    scopectl::commands::execute(cli, &argv)
}
