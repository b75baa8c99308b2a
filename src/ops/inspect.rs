//! Reading a home without changing it: `list`, `history` and `why`.

use std::sync::Arc;

use anyhow::Result;
use scope_lockfile::{PinSource, PluginSpec};
use scope_name::PluginName;
use scope_resolver::{Choice, Requirer};

use super::change::not_installed;
use super::plan::read_only;
use super::probe;
use crate::change::Change;
use crate::documents::{
    ChangeEntry, HistoryDocument, HistoryEntry, ListDocument, ListedPlugin, DOCUMENT_VERSION,
};
use crate::home::Home;
use crate::reporter::Reporter;
use crate::settings::Settings;

/// The editable plugins of generation `n` whose sources changed since it
/// was built (normalised names); a plugin whose directory cannot be read
/// counts as changed.
pub fn edited_since(home: &Home, n: u64) -> Vec<String> {
    let Some(built) = home.generation(n).ok().and_then(|g| g.fingerprints) else {
        return Vec::new();
    };
    let pins = home
        .generation_lock(n)
        .ok()
        .flatten()
        .map(|l| l.plugins)
        .unwrap_or_default();
    pins.iter()
        .filter_map(|pin| match &pin.source {
            PinSource::Path { path } => Some((pin.name.normalized().to_owned(), path)),
            _ => None,
        })
        .filter(|(name, path)| {
            let now = crate::plugin_crate::PluginCrate::read(&home.root().join(path))
                .and_then(|k| k.fingerprint());
            built
                .get(name)
                .is_some_and(|b| now.map_or(true, |now| &now != b))
        })
        .map(|(name, _)| name)
        .collect()
}

/// The active generation's plugins, with the pipelines each registered.
pub fn list(home: &Home) -> Result<ListDocument> {
    let plugins = match home.current() {
        Some(n) => home
            .generation_lock(n)?
            .map(|l| l.plugins)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let edited = home
        .current()
        .map(|n| edited_since(home, n))
        .unwrap_or_default();
    // What the active generation's plugins.toml granted.
    let grants = match home.current() {
        Some(n) => {
            let path = home.generation_dir(n).join("plugins.toml");
            let text = fs_err::read_to_string(&path)?;
            scope_lockfile::PluginsToml::parse(&path, &text)?
                .grants()
                .clone()
        }
        None => Default::default(),
    };
    // The host knows which pipelines each plugin registered.
    let pipelines = probe::pipelines(&home.host_path()).ok();
    let pipelines_of = |name: &PluginName| -> Vec<String> {
        pipelines
            .iter()
            .flat_map(|d| &d.pipelines)
            .filter(|p| name.matches(&p.plugin))
            .map(|p| p.id.clone())
            .collect()
    };
    let listed = plugins
        .iter()
        .map(|p| {
            let (kind, source) = crate::documents::source_of(&p.source);
            let editable = kind == "path";
            ListedPlugin {
                name: p.name.clone(),
                version: p.version.to_string(),
                source,
                kind,
                editable,
                edited: edited.contains(&p.name.normalized().to_owned()),
                dependency_of: plugins
                    .iter()
                    .filter(|o| o.dependencies.contains(&p.name))
                    .map(|o| o.name.clone())
                    .collect(),
                pipelines: pipelines_of(&p.name),
                allow: grants.get(&p.name).cloned().unwrap_or_default(),
            }
        })
        .collect();
    Ok(ListDocument {
        version: DOCUMENT_VERSION,
        plugins: listed,
    })
}

/// Every generation, oldest first.
pub fn history(home: &Home) -> Result<HistoryDocument> {
    let current = home.current();
    let rollbacks = home.automatic_rollbacks();
    let generations = home
        .generations()?
        .into_iter()
        .map(|n| {
            let info = home.generation(n)?;
            Ok(HistoryEntry {
                number: info.number,
                created: info.created,
                command: info.command,
                changed: match &info.recorded {
                    Some(changes) => changes.iter().filter_map(Change::entry).collect(),
                    // Made before changes were stored as values.
                    None => info
                        .changes
                        .iter()
                        .filter_map(|line| ChangeEntry::parse(line))
                        .collect(),
                },
                changes: info.changes,
                current: Some(n) == current,
                rolled_back: rollbacks.iter().filter(|r| r.from == n).cloned().collect(),
            })
        })
        .collect::<Result<_>>()?;
    Ok(HistoryDocument {
        version: DOCUMENT_VERSION,
        generations,
    })
}

/// Why a plugin is installed and why at its version.
#[derive(Debug)]
pub struct Why {
    /// The plugin.
    pub name: PluginName,
    /// Its version.
    pub version: semver::Version,
    /// Who asked for it, and for what: one line each.
    pub required_by: Vec<String>,
    /// Why this version.
    pub because: String,
    /// The capabilities granted to it (`[allow]` in plugins.toml).
    pub allow: Vec<String>,
}

/// Explains `name` from the home's files as they are now.
pub fn why(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
    name: &PluginName,
) -> Result<Why> {
    let desired = home.plugins_toml()?;
    let resolution = read_only(home, settings, reporter, |planner| {
        planner.solve(&planner.gather()?)
    })?;
    let Some(pick) = resolution.plugins.get(name) else {
        return Err(not_installed(name, resolution.plugins.keys()));
    };
    let required_by = pick
        .required_by
        .iter()
        .map(|requirement| match &requirement.by {
            // What the user wrote: where the plugin is, or a requirement.
            Requirer::User => match desired.plugins().get(name) {
                Some(spec @ (PluginSpec::Path { .. } | PluginSpec::Git { .. })) => {
                    format!("you asked for it in plugins.toml: {spec}")
                }
                _ => format!("you asked for it in plugins.toml: {}", requirement.req),
            },
            Requirer::Plugin { name, version } => {
                format!("{name} v{version} depends on it: {}", requirement.req)
            }
        })
        .collect();
    let because = match &pick.choice {
        Choice::Locked => {
            "it is the version in resolved.lock, and nothing requires another".to_owned()
        }
        Choice::Newest => "it is the newest version that can be chosen".to_owned(),
        Choice::Held { newest, by } => format!("{newest} is newer, but {by}"),
        Choice::Moved { from, by } => format!("it was locked at {from}, but {by}"),
    };
    Ok(Why {
        name: name.clone(),
        version: pick.version.clone(),
        required_by,
        because,
        allow: desired.grants().get(name).cloned().unwrap_or_default(),
    })
}
