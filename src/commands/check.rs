//! `scopectl check [DIR] [--json]`: would this plugin crate install? For a
//! plugin repository's CI, with no home: see [`crate::ops::plugin_check`].

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::documents::to_line;

pub fn check(context: &Context, dir: Option<&Path>, json: bool) -> Result<ExitCode> {
    let dir = context
        .settings
        .working_dir
        .join(dir.unwrap_or(Path::new(".")));
    let report = crate::ops::plugin_check::check(&dir, &context.settings, context.reporter())?;
    if json {
        println!("{}", to_line(&report));
    } else {
        for finding in &report.findings {
            println!("{:<8} {}", finding.level, finding.message);
        }
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
