//! Capabilities at install time: every capability a plugin asks for must
//! be granted — in `plugins.toml`'s `[allow]`, by the command's `--allow`,
//! or on a terminal when asked — before its host is built.

use anyhow::{Context, Result};
use scope_lockfile::PluginsToml;

use crate::capability::{Capability, Grant};
use crate::error::Hinted;
use crate::plugin_crate::PluginCrate;
use crate::reporter::Reporter;

/// Checks that every capability a chosen plugin asks for is granted by
/// `plugins.toml` or by `grant`; refuses naming each one that is not.
/// Returns `plugins.toml` with what `grant` added recorded.
pub fn grant_capabilities(
    desired: &PluginsToml,
    chosen: &[PluginCrate],
    grant: &Grant,
    reporter: &dyn Reporter,
) -> Result<PluginsToml> {
    let mut recorded = desired.clone();
    let mut refused = Vec::new();
    for plugin in chosen.iter().filter(|p| !p.capabilities.is_empty()) {
        let name = plugin.plugin_name()?;
        let granted: Vec<Capability> = desired
            .grants()
            .get(&name)
            .into_iter()
            .flatten()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("in `[allow]` of {}", desired.path().display()))?;
        let missing = crate::capability::missing(&plugin.capabilities, &granted);
        if missing.is_empty() {
            continue;
        }
        let (mut now, mut still): (Vec<&Capability>, Vec<&Capability>) =
            missing.into_iter().partition(|c| grant.covers(c));
        if grant.ask {
            for capability in std::mem::take(&mut still) {
                let question = format!(
                    "{} v{} asks for {capability}. Allow it?",
                    plugin.name, plugin.version
                );
                match crate::prompt::confirm(&question)? {
                    Some(true) => now.push(capability),
                    _ => still.push(capability),
                }
            }
        }
        if !still.is_empty() {
            let list = |caps: &[&Capability]| {
                caps.iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let had = if granted.is_empty() {
                String::new()
            } else {
                let granted: Vec<&Capability> = granted.iter().collect();
                format!(" (granted so far: {})", list(&granted))
            };
            refused.push((
                format!(
                    "  {} v{} asks for {}{had}",
                    plugin.name,
                    plugin.version,
                    list(&still)
                ),
                still
                    .iter()
                    .map(|c| format!("--allow {c}"))
                    .collect::<Vec<_>>(),
            ));
            continue;
        }
        let mut all: Vec<String> = granted.iter().map(|c| c.to_string()).collect();
        all.extend(now.iter().map(|c| c.to_string()));
        reporter.status(
            "Allowed",
            &format!(
                "{} {}",
                plugin.name,
                now.iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        recorded.set_grants(&name, &all);
    }
    if refused.is_empty() {
        return Ok(recorded);
    }
    let lines: Vec<String> = refused.iter().map(|(line, _)| line.clone()).collect();
    let mut flags: Vec<String> = refused.into_iter().flat_map(|(_, f)| f).collect();
    flags.dedup();
    Err(Hinted::new(
        format!(
            "plugins ask for capabilities that are not granted; nothing was changed:\n{}",
            lines.join("\n")
        ),
        format!(
            "read what the plugin does with them, then grant them: `{}` (or `--allow-all`)",
            flags.join(" ")
        ),
    )
    .into())
}
