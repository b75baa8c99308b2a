//! Asking on the terminal: a password without echo, a yes or no.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Result;

/// Asks on the terminal with echo off; `None` when stdin is not one.
pub fn hidden(prompt: &str) -> Result<Option<String>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(None);
    }
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let before = rustix::termios::tcgetattr(&stdin)?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
    rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet)?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &before)?;
    eprintln!();
    read?;
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
}

/// Asks a yes-or-no question on the terminal (no is the default); `None`
/// when stdin is not a terminal.
pub fn confirm(question: &str) -> Result<Option<bool>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(None);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(Some(matches!(line.trim(), "y" | "Y" | "yes" | "Yes")))
}
