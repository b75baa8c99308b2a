//! `policy check`.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::ops::policy_check::check as check_policy;

pub fn check(context: &Context, json: bool) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let report = check_policy(&home, &context.settings, context.reporter())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for finding in &report.findings {
            println!("{finding}");
        }
        let verb = if report.passed { "Passed" } else { "Refused" };
        context.printer.status(
            verb,
            format!(
                "{} plugin(s) and {} crate(s) against {}: {} finding(s)",
                report.plugins,
                report.crates,
                report.policy.display(),
                report.findings.len()
            ),
        );
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
