//! `doctor [--repair]`.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::home::Transaction;
use crate::ops::doctor::{diagnose, repair, Check};

pub fn doctor(context: &Context, fix: bool) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let checks = diagnose(&home, &context.settings);
    let repairable = checks
        .iter()
        .any(|c| matches!(c, Check::Problem(_, Some(_))));
    // Repairs change the home: through its transaction, whose beginning
    // also finishes or undoes an interrupted change.
    let transaction = if fix && repairable {
        Some(Transaction::begin(
            &home,
            context.settings.lock_timeout,
            &crate::reporter::Silent,
        )?)
    } else {
        None
    };
    let mut remaining = 0;
    for check in checks {
        match (check, &transaction) {
            (Check::Ok(what), _) => println!("ok       {what}"),
            (Check::Note(what), _) => println!("note     {what}"),
            (Check::Problem(what, Some(how)), Some(transaction)) => {
                println!("repaired {what}: {}", repair(transaction, &how)?);
            }
            (Check::Problem(what, how), _) => {
                remaining += 1;
                let fix = if how.is_some() {
                    " (`scopectl doctor --repair` fixes it)"
                } else {
                    ""
                };
                println!("problem  {what}{fix}");
            }
        }
    }
    Ok(if remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
