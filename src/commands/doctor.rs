//! `doctor [--repair]`.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::documents::to_line;

pub fn doctor(context: &Context, fix: bool, json: bool) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let document = crate::ops::doctor::doctor(&home, &context.settings, fix)?;
    if json {
        println!("{}", to_line(&document));
    } else {
        for check in &document.checks {
            let fix = if check.repairable {
                " (`scopectl doctor --repair` fixes it)"
            } else {
                ""
            };
            println!("{:<8} {}{fix}", check.status, check.message);
        }
    }
    Ok(if document.problems() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
