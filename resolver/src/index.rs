//! How the resolver sees the world: the versions of a plugin and what each
//! version needs. The CLI implements [`Index`] over registries, git and path
//! sources; tests implement it over tables ([`MemoryIndex`]).

use std::collections::BTreeMap;

use semver::{Version, VersionReq};

/// One published version of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The version.
    pub version: Version,
    /// Withdrawn by its author: chosen only when it is already locked.
    pub yanked: bool,
}

/// What one version of a plugin needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Other plugins it depends on, by name, with their requirements.
    pub dependencies: Vec<(String, VersionReq)>,
    /// Its requirement on `scope-plugin-api`, which must match the host's API version.
    pub api: VersionReq,
    /// Plugins that must never be installed together with it.
    pub conflicts: Vec<String>,
}

/// Why the index could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IndexError {
    /// What went wrong, for a person.
    pub message: String,
}

/// The versions of plugins and their manifests. A registry offers many
/// versions of a plugin; a git or path source offers exactly one.
pub trait Index {
    /// Every version of `plugin`, in any order. An unknown plugin has none.
    fn versions(&self, plugin: &str) -> Result<Vec<Candidate>, IndexError>;

    /// The manifest of one version that [`Index::versions`] returned.
    fn manifest(&self, plugin: &str, version: &Version) -> Result<Manifest, IndexError>;
}

/// An index held in memory: the test fixtures' and benchmarks' universe.
#[derive(Debug, Clone, Default)]
pub struct MemoryIndex {
    plugins: BTreeMap<String, BTreeMap<Version, (bool, Manifest)>>,
}

impl MemoryIndex {
    /// An empty index.
    pub fn new() -> Self {
        MemoryIndex::default()
    }

    /// Adds a version.
    pub fn add(&mut self, plugin: &str, version: Version, yanked: bool, manifest: Manifest) {
        self.plugins
            .entry(crate::normalize(plugin))
            .or_default()
            .insert(version, (yanked, manifest));
    }

    fn key<'a>(&self, plugin: &'a str) -> std::borrow::Cow<'a, str> {
        if plugin.contains('_') {
            crate::normalize(plugin).into()
        } else {
            plugin.into()
        }
    }

    /// Every plugin name.
    pub fn plugins(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }
}

impl Index for MemoryIndex {
    fn versions(&self, plugin: &str) -> Result<Vec<Candidate>, IndexError> {
        Ok(self
            .plugins
            .get(self.key(plugin).as_ref())
            .map(|versions| {
                versions
                    .iter()
                    .map(|(version, (yanked, _))| Candidate {
                        version: version.clone(),
                        yanked: *yanked,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn manifest(&self, plugin: &str, version: &Version) -> Result<Manifest, IndexError> {
        self.plugins
            .get(self.key(plugin).as_ref())
            .and_then(|versions| versions.get(version))
            .map(|(_, manifest)| manifest.clone())
            .ok_or_else(|| IndexError {
                message: format!("{plugin} {version} is not in the index"),
            })
    }
}
