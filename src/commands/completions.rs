//! `scopectl completions SHELL`, and the man pages, from the clap definitions.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "scopectl",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The man pages: `scopectl.1` and `scopectl-<command>.1` for each command,
/// as `(file name, contents)`.
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>> {
    let command = Cli::command();
    let mut pages = Vec::new();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    pages.push(("scopectl.1".to_owned(), page));
    for sub in command.get_subcommands() {
        let name = format!("scopectl-{}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(&mut page)?;
        pages.push((format!("{name}.1"), page));
    }
    Ok(pages)
}

/// Writes the man pages into `dir`.
pub fn write_man_pages(dir: &Path) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    for (name, contents) in man_pages()? {
        fs_err::write(dir.join(name), contents)?;
    }
    Ok(())
}
