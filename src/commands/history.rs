//! `history [--json]`: every generation, newest last.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::documents::to_line;
use crate::ops::inspect;

pub fn history(context: &Context, json: bool) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let document = inspect::history(&home)?;
    if json {
        println!("{}", to_line(&document));
        return Ok(ExitCode::SUCCESS);
    }
    if document.generations.is_empty() {
        eprintln!("No generations yet in {}.", home.root().display());
    }
    for g in &document.generations {
        let marker = if g.current { "*" } else { " " };
        println!("{marker} {:>3}  {}  {}", g.number, g.created, g.command);
        if g.changes.is_empty() {
            println!("         (rebuilt; no plugin changed)");
        }
        for change in &g.changes {
            println!("         {change}");
        }
        for rollback in &g.rolled_back {
            println!(
                "         rolled back automatically to generation {} at {}: gate {}",
                rollback.to, rollback.at, rollback.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
