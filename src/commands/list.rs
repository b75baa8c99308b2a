//! `list [--json]` and `pipelines [--json]`.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::documents::to_line;
use crate::ops::inspect;

pub fn list(context: &Context, json: bool) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let document = inspect::list(&home)?;
    if json {
        println!("{}", to_line(&document));
        return Ok(ExitCode::SUCCESS);
    }
    if document.plugins.is_empty() {
        eprintln!("No plugins installed in {}.", home.root().display());
    }
    for plugin in &document.plugins {
        let dependency_of = match plugin.dependency_of.as_slice() {
            [] => String::new(),
            names => {
                let names: Vec<String> = names.iter().map(ToString::to_string).collect();
                format!("  dependency of: {}", names.join(", "))
            }
        };
        let allowed = match plugin.allow.as_slice() {
            [] => String::new(),
            granted => format!("  allowed: {}", granted.join(", ")),
        };
        println!(
            "{} v{}  {}{}  pipelines: {}{dependency_of}{allowed}",
            plugin.name,
            plugin.version,
            plugin.source,
            match (plugin.editable, plugin.edited) {
                (true, true) => " (editable, changed since the active generation was built)",
                (true, false) => " (editable)",
                _ => "",
            },
            if plugin.pipelines.is_empty() {
                "none".to_owned()
            } else {
                plugin.pipelines.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks the active host for its pipelines.
pub fn pipelines(context: &Context, json: bool) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let host = home.host_path();
    if !host.exists() {
        // No plugins, so no pipelines: an answer, not an error.
        if json {
            let empty = crate::ops::probe::active_pipelines(&home)?;
            println!("{}", to_line(&empty));
        } else {
            eprintln!(
                "No plugins installed in {}, so no pipelines.",
                home.root().display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut command = std::process::Command::new(&host);
    command.arg("pipelines");
    if json {
        command.arg("--json");
    }
    let status = command.status()?;
    Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
}
