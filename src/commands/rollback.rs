//! `rollback [--to N]`: switch to an earlier generation without building.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::home::Transaction;
use crate::output::error::Hinted;

pub fn rollback(context: &Context, to: Option<u64>) -> Result<ExitCode> {
    let home = context.home()?;
    let printer = &context.printer;
    let transaction = Transaction::begin(&home, context.settings.lock_timeout, printer)?;
    let current = home.current().ok_or_else(|| {
        Hinted::new(
            format!(
                "nothing to roll back: no generation is active in {}",
                home.root().display()
            ),
            "install a plugin first, e.g. `scopectl install ./my-plugin`",
        )
    })?;
    let target = match to {
        Some(n) => n,
        None => home.generations()?.into_iter().filter(|&n| n < current).max().ok_or_else(|| {
            Hinted::new(
                format!("generation {current} is the oldest; there is nothing earlier to roll back to"),
                "see `scopectl history` for the generations there are",
            )
        })?,
    };
    if target == current {
        printer.status("Fresh", format!("generation {current} is already active"));
        return Ok(ExitCode::SUCCESS);
    }
    let info = home.generation(target).map_err(|err| {
        Hinted::new(
            err.to_string(),
            "see `scopectl history` for the generations there are",
        )
    })?;
    transaction.switch_to(target)?;
    drop(transaction);
    crate::supervise::notify(&home, printer);
    let verb = if target < current {
        "Rolled back"
    } else {
        "Switched"
    };
    printer.status(
        verb,
        format!("from generation {current} to {target} ({})", info.command),
    );
    Ok(ExitCode::SUCCESS)
}
