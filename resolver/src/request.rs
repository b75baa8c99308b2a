//! What a resolution is asked to do.

use std::collections::{BTreeMap, BTreeSet};

use scope_name::PluginName;
use semver::{Version, VersionReq};

use crate::ranges::names_prerelease;

/// Which locked plugins may move.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Unlock {
    /// None: every locked plugin keeps its version unless a constraint forces it.
    #[default]
    Nothing,
    /// These may move to their newest allowed version (`update NAME...`).
    Plugins(BTreeSet<PluginName>),
    /// All of them (`update`).
    All,
}

/// Where a plugin that is not from a registry comes from, for messages: its
/// version is what its source holds, and its own requirements are written
/// in its manifest, not in `plugins.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The source as `plugins.toml` writes it (`./vignette-fx`, a git URL).
    pub source: String,
    /// Where its requirements are written (`./vignette-fx/Cargo.toml`).
    pub manifest: String,
}

/// A resolution request: what the user asked for, what is locked, and the
/// host's API version.
#[derive(Debug, Clone)]
pub struct Request {
    /// The user's requirements (`plugins.toml`); a path or git plugin's is
    /// its one version (`=0.1.0`), with its [`Origin`].
    pub requirements: BTreeMap<PluginName, VersionReq>,
    /// Where path and git plugins come from.
    pub origins: BTreeMap<PluginName, Origin>,
    /// The plugin whose requirement is a trial, not the user's (`=1.5.0`
    /// when `update --check` asks why 1.5.0 cannot be chosen).
    pub tried: Option<PluginName>,
    /// The locked versions (`resolved.lock`).
    pub locked: BTreeMap<PluginName, Version>,
    /// Which locked plugins may move.
    pub unlock: Unlock,
    /// The `scope-plugin-api` version the host is built with.
    pub api_version: Version,
}

impl Request {
    /// A request with no locks.
    pub fn new(api_version: Version) -> Request {
        Request {
            requirements: BTreeMap::new(),
            origins: BTreeMap::new(),
            tried: None,
            locked: BTreeMap::new(),
            unlock: Unlock::Nothing,
            api_version,
        }
    }

    /// Adds a requirement.
    pub fn require(mut self, plugin: &PluginName, req: VersionReq) -> Request {
        self.requirements.insert(plugin.clone(), req);
        self
    }

    /// Says where a path or git plugin comes from.
    pub fn origin(mut self, plugin: &PluginName, origin: Origin) -> Request {
        self.origins.insert(plugin.clone(), origin);
        self
    }

    /// Adds a locked version.
    pub fn lock(mut self, plugin: &PluginName, version: Version) -> Request {
        self.locked.insert(plugin.clone(), version);
        self
    }

    /// Whether `plugin` (normalised) may leave its locked version for a newer one.
    pub fn unlocks(&self, plugin: &str) -> bool {
        match &self.unlock {
            Unlock::Nothing => false,
            Unlock::All => true,
            Unlock::Plugins(names) => names.contains(plugin),
        }
    }

    /// Pre-releases of a plugin are candidates only when the user's own
    /// requirement names one, or one is already locked. Decided once, before
    /// solving.
    pub fn allows_prerelease(&self, plugin: &str) -> bool {
        self.requirements.get(plugin).is_some_and(names_prerelease)
            || self.locked.get(plugin).is_some_and(|v| !v.pre.is_empty())
    }
}
