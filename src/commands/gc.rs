//! `scopectl gc [--keep N]`: delete old generations, never the current one.

use std::process::ExitCode;

use anyhow::Result;

use crate::home::Home;
use crate::printer::Printer;
use crate::transaction::Transaction;

pub fn gc(home: &Home, keep: usize, printer: &Printer) -> Result<ExitCode> {
    let _transaction = Transaction::begin(home, printer)?;
    let current = home.current();
    let generations = home.generations()?;
    let newest: Vec<u64> = generations.iter().rev().take(keep).copied().collect();
    let mut removed = Vec::new();
    for n in generations {
        if Some(n) != current && !newest.contains(&n) {
            fs_err::remove_dir_all(home.generation_dir(n))?;
            removed.push(n.to_string());
        }
    }
    if removed.is_empty() {
        printer.status("Fresh", "no generation to delete");
    } else {
        printer.status("Removed", format!("generation(s) {}", removed.join(", ")));
    }
    Ok(ExitCode::SUCCESS)
}
