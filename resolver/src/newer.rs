//! "Why not newer": what `update --check` reports for one plugin.

use std::sync::Arc;

use scope_name::PluginName;
use semver::Version;

use crate::constraint::Constraint;
use crate::index::Index;
use crate::provider::Provider;
use crate::request::{Request, Unlock};
use crate::solve::{resolve, Resolution, ResolveError, World};

/// Newer versions of one installed plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newer {
    /// The plugin.
    pub plugin: PluginName,
    /// The installed (locked) version.
    pub installed: Version,
    /// The newest version that could ever be chosen (not yanked; no
    /// pre-release unless asked for).
    pub newest: Option<Version>,
    /// The newest version the constraints allow: what `update NAME` picks.
    pub newest_compatible: Version,
    /// Why `newest` is not `newest_compatible`, when it is not.
    pub blocked_by: Option<Constraint>,
}

impl Newer {
    /// Whether `update` would move the plugin.
    pub fn update_available(&self) -> bool {
        self.newest_compatible > self.installed
    }
}

/// Checks `plugin` of the locked set in `request` for newer versions.
pub fn newer<I: Index + ?Sized>(
    index: &I,
    request: &Request,
    plugin: &PluginName,
) -> Result<Newer, ResolveError> {
    let installed = request.locked.get(plugin).cloned();
    let mut unlocked = request.clone();
    unlocked.unlock = match &request.unlock {
        Unlock::All => Unlock::All,
        Unlock::Nothing => Unlock::Plugins([plugin.clone()].into()),
        Unlock::Plugins(names) => {
            Unlock::Plugins(names.iter().cloned().chain([plugin.clone()]).collect())
        }
    };
    let updated: Resolution = resolve(index, &unlocked)?;
    let newest_compatible = updated
        .plugins
        .get(plugin)
        .map(|p| p.version.clone())
        .or_else(|| installed.clone())
        .ok_or_else(|| {
            ResolveError::Index(crate::IndexError {
                message: format!("{plugin} is neither installed nor required"),
            })
        })?;
    let provider = Provider::new(index, &unlocked, Default::default());
    let newest = provider
        .candidates(&Arc::from(plugin.normalized()))?
        .first()
        .map(|c| c.version.clone());
    let blocked_by = match &newest {
        Some(newest) if *newest > newest_compatible => {
            let chosen = updated
                .plugins
                .iter()
                .map(|(n, p)| (n.normalized().to_owned(), p.version.clone()))
                .collect();
            let mut manifests = std::collections::BTreeMap::new();
            for (name, pick) in &updated.plugins {
                manifests.insert(
                    name.normalized().to_owned(),
                    provider.manifest(&Arc::from(name.normalized()), &pick.version)?,
                );
            }
            let world = World {
                provider: &provider,
                chosen: &chosen,
                manifests: &manifests,
            };
            let required_by = updated
                .plugins
                .get(plugin)
                .map(|p| p.required_by.clone())
                .unwrap_or_default();
            Some(world.excluded_by(plugin.normalized(), newest, &required_by)?)
        }
        _ => None,
    };
    Ok(Newer {
        installed: installed.unwrap_or_else(|| newest_compatible.clone()),
        plugin: plugin.clone(),
        newest,
        newest_compatible,
        blocked_by,
    })
}
