use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = scopectl::cli::Cli::parse();
    scopectl::commands::run(cli)
}
