//! `scopectl list [--json]`: the installed plugins.

use std::process::ExitCode;

use anyhow::Result;
use scope_lockfile::PinSource;

use crate::change::read_lock;
use crate::home::Home;

pub fn list(home: &Home, json: bool) -> Result<ExitCode> {
    let lock = match home.current() {
        Some(n) => read_lock(&home.generation_dir(n).join("resolved.lock"))?,
        None => None,
    };
    let plugins = lock.map(|l| l.plugins).unwrap_or_default();
    // The host knows which pipelines each plugin registered.
    let pipelines: serde_json::Value = std::process::Command::new(home.host_path())
        .args(["pipelines", "--json"])
        .output()
        .ok()
        .and_then(|out| serde_json::from_slice(&out.stdout).ok())
        .unwrap_or(serde_json::Value::Null);
    let pipelines_of = |name: &str| -> Vec<String> {
        pipelines["pipelines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["plugin"] == name)
            .filter_map(|p| p["id"].as_str().map(str::to_owned))
            .collect()
    };
    let rows: Vec<serde_json::Value> = plugins
        .iter()
        .map(|p| {
            let (source, editable) = match &p.source {
                PinSource::Registry { registry, .. } => (format!("registry+{registry}"), false),
                PinSource::Git { url, commit, .. } => (format!("git+{url}#{commit}"), false),
                PinSource::Path { path } => (format!("path+{}", path.display()), true),
            };
            let dependency_of: Vec<&str> = plugins
                .iter()
                .filter(|o| o.dependencies.contains(&p.name))
                .map(|o| o.name.as_str())
                .collect();
            serde_json::json!({
                "name": p.name,
                "version": p.version.to_string(),
                "source": source,
                "editable": editable,
                "dependency_of": dependency_of,
                "pipelines": pipelines_of(&p.name),
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::json!({ "version": 1, "plugins": rows }));
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!("No plugins installed in {}.", home.root().display());
    }
    for row in &rows {
        let pipelines: Vec<&str> = row["pipelines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str())
            .collect();
        println!(
            "{} v{}  {}{}  pipelines: {}",
            row["name"].as_str().unwrap_or(""),
            row["version"].as_str().unwrap_or(""),
            row["source"].as_str().unwrap_or(""),
            if row["editable"] == true {
                " (editable)"
            } else {
                ""
            },
            if pipelines.is_empty() {
                "none".to_owned()
            } else {
                pipelines.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `scopectl pipelines [--json]`: asks the active host.
pub fn pipelines(home: &Home, json: bool) -> Result<ExitCode> {
    let host = home.host_path();
    if !host.exists() {
        return Err(crate::error::Hinted::new(
            format!("no host in {}: nothing is installed", home.root().display()),
            "install a plugin first, e.g. `scopectl install ./my-plugin`",
        )
        .into());
    }
    let mut command = std::process::Command::new(&host);
    command.arg("pipelines");
    if json {
        command.arg("--json");
    }
    let status = command.status()?;
    Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
}
