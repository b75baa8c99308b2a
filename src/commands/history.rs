//! `scopectl history [--json]`: every generation, newest last.

use std::process::ExitCode;

use anyhow::Result;

use crate::generation::GenerationInfo;
use crate::home::Home;

pub fn history(home: &Home, json: bool) -> Result<ExitCode> {
    let current = home.current();
    let mut generations = Vec::new();
    for n in home.generations()? {
        generations.push(GenerationInfo::read(home, n)?);
    }
    if json {
        let list: Vec<serde_json::Value> = generations
            .iter()
            .map(|g| {
                serde_json::json!({
                    "number": g.number,
                    "created": g.created,
                    "command": g.command,
                    "changes": g.changes,
                    "current": Some(g.number) == current,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "version": 1, "generations": list })
        );
        return Ok(ExitCode::SUCCESS);
    }
    if generations.is_empty() {
        eprintln!("No generations yet in {}.", home.root().display());
    }
    for g in &generations {
        let marker = if Some(g.number) == current { "*" } else { " " };
        println!("{marker} {:>3}  {}  {}", g.number, g.created, g.command);
        for change in &g.changes {
            println!("         {change}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
