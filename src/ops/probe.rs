//! Asking a host about itself: `self-check --json` before a new host is
//! switched to (and by `doctor`), `pipelines --json` for `list` and
//! `pipelines`. Both answers are read into the typed documents.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::documents::{PipelinesDocument, SelfCheck};
use crate::error::Hinted;

/// Runs `self-check --json` on `binary`.
pub fn self_check(binary: &Path) -> Result<(bool, SelfCheck)> {
    let out = crate::cancel::output(Command::new(binary).args(["self-check", "--json"]))
        .with_context(|| format!("cannot run the host `{}`", binary.display()))?;
    let report: SelfCheck = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the host's self-check printed no report: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    Ok((out.status.success() && report.ok, report))
}

/// Refuses a new host in which any plugin failed to register or a
/// pipeline id is taken twice.
pub fn probe(binary: &Path) -> Result<()> {
    let (ok, report) = self_check(binary)?;
    if ok {
        return Ok(());
    }
    let mut problems: Vec<String> = report
        .plugins
        .iter()
        .flat_map(|p| {
            p.errors
                .iter()
                .map(move |e| format!("plugin `{}`: {e}", p.name))
        })
        .collect();
    problems.extend(report.duplicates.iter().map(|d| {
        format!(
            "pipeline `{}` is registered by {}",
            d.id,
            d.plugins.join(" and ")
        )
    }));
    Err(Hinted::new(
        format!(
            "the new host failed its self-check; nothing was changed:\n  {}",
            problems.join("\n  ")
        ),
        "fix the plugin, or uninstall the one that fails",
    )
    .into())
}

/// Runs `pipelines --json` on `binary`.
pub fn pipelines(binary: &Path) -> Result<PipelinesDocument> {
    let out = crate::cancel::output(Command::new(binary).args(["pipelines", "--json"]))
        .with_context(|| format!("cannot run the host `{}`", binary.display()))?;
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the host printed no pipelines: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// The active host's pipelines; none (an answer, not an error) when no
/// host is built.
pub fn active_pipelines(home: &crate::home::Home) -> Result<PipelinesDocument> {
    let host = home.host_path();
    if !host.exists() {
        return Ok(PipelinesDocument {
            version: crate::documents::DOCUMENT_VERSION,
            api_version: scope_plugin_api::API_VERSION.to_owned(),
            pipelines: Vec::new(),
            errors: Vec::new(),
        });
    }
    pipelines(&host)
}
