//! `rollback [--to N]`: switch to an earlier generation without building.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::ops::rollback::{rollback as switch, Switched};

pub fn rollback(context: &Context, to: Option<u64>) -> Result<ExitCode> {
    let home = context.home()?;
    let printer = &context.printer;
    match switch(&home, &context.settings, printer, to)? {
        Switched::Already(n) => {
            printer.status("Fresh", format!("generation {n} is already active"))
        }
        Switched::Switched { from, to, command } => {
            let verb = if to < from { "Rolled back" } else { "Switched" };
            printer.status(verb, format!("from generation {from} to {to} ({command})"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
