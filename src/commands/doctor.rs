//! `doctor [--repair]`.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::home::Transaction;
use crate::ops::doctor::{diagnose, repair, Check};

pub fn doctor(context: &Context, fix: bool, json: bool) -> Result<ExitCode> {
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
    let mut rows = Vec::new();
    for check in checks {
        rows.push(match (check, &transaction) {
            (Check::Ok(what), _) => ("ok", what, false),
            (Check::Note(what), _) => ("note", what, false),
            (Check::Problem(what, Some(how)), Some(transaction)) => {
                let done = repair(transaction, &how)?;
                ("repaired", format!("{what}: {done}"), false)
            }
            (Check::Problem(what, how), _) => ("problem", what, how.is_some()),
        });
    }
    let remaining = rows
        .iter()
        .filter(|(status, ..)| *status == "problem")
        .count();
    if json {
        let checks: Vec<serde_json::Value> = rows
            .iter()
            .map(|(status, message, repairable)| {
                serde_json::json!({"status": status, "message": message, "repairable": repairable})
            })
            .collect();
        println!("{}", serde_json::json!({"version": 1, "checks": checks}));
    } else {
        for (status, message, repairable) in &rows {
            let fix = if *repairable {
                " (`scopectl doctor --repair` fixes it)"
            } else {
                ""
            };
            println!("{status:<8} {message}{fix}");
        }
    }
    Ok(if remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
