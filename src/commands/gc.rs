//! `gc [--keep N]`: delete old generations and the cache only they used.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::home::Transaction;

pub fn gc(context: &Context, keep: usize) -> Result<ExitCode> {
    let home = context.home()?;
    let printer = &context.printer;
    let transaction = Transaction::begin(&home, context.settings.lock_timeout, printer)?;
    let collected = crate::ops::gc::gc(&transaction, keep)?;
    if collected.generations.is_empty() {
        printer.status("Fresh", "no generation to delete");
    } else {
        let numbers: Vec<String> = collected.generations.iter().map(u64::to_string).collect();
        printer.status("Removed", format!("generation(s) {}", numbers.join(", ")));
    }
    let freed = collected.cache_entries;
    if freed > 0 {
        printer.status(
            "Removed",
            format!(
                "{freed} unreferenced cache entr{}",
                if freed == 1 { "y" } else { "ies" }
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}
