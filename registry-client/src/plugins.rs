//! What the resolver needs from a registry: every version of the requested
//! plugins and of the plugins they depend on, with yanked flags, their
//! `scope-plugin-api` requirements and their dependencies on other plugins.
//!
//! The resolver is synchronous and does no I/O, so the index entries are
//! fetched first, level by level and concurrently within a level, and put
//! into a [`MemoryIndex`]. A dependency is a plugin when its crate depends
//! on `scope-plugin-api`; other crates are left to cargo.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use scope_resolver::{Manifest, MemoryIndex, API_CRATE};
use semver::{Version, VersionReq};
use tame_index::krate::DependencyKind;
use tame_index::IndexKrate;

use crate::registry::{Registry, RegistryError};

/// Whether any version of the crate depends on `scope-plugin-api`.
pub fn is_plugin(krate: &IndexKrate) -> bool {
    krate.versions.iter().any(|v| {
        v.deps
            .iter()
            .any(|d| d.crate_name() == API_CRATE && d.kind() == DependencyKind::Normal)
    })
}

/// Fetches `roots` and every plugin they depend on, transitively. A root
/// that does not exist is absent from the result (the resolver then says
/// so); one that exists but is not a plugin is an error.
pub async fn collect(
    registry: &Arc<Registry>,
    roots: &[String],
) -> Result<BTreeMap<String, IndexKrate>, RegistryError> {
    let mut found = BTreeMap::new();
    let mut seen: BTreeSet<String> = roots.iter().cloned().collect();
    let mut level: Vec<String> = roots.to_vec();
    while !level.is_empty() {
        let mut next = Vec::new();
        for (name, result) in registry.krates(&level).await {
            let Some(krate) = result? else { continue };
            if !is_plugin(&krate) {
                if roots.contains(&name) {
                    return Err(RegistryError::Malformed {
                        registry: registry.name().to_owned(),
                        what: format!("plugin `{name}`"),
                        message: format!(
                            "`{name}` is not a Scope plugin: no version depends on `{API_CRATE}`"
                        ),
                    });
                }
                continue;
            }
            for version in &krate.versions {
                for dep in version
                    .deps
                    .iter()
                    .filter(|d| d.kind() == DependencyKind::Normal)
                {
                    let dep = dep.crate_name().to_owned();
                    if dep != API_CRATE && seen.insert(dep.clone()) {
                        next.push(dep);
                    }
                }
            }
            found.insert(name, krate);
        }
        level = next;
    }
    Ok(found)
}

/// Puts fetched plugins into a resolver index.
pub fn to_index(plugins: &BTreeMap<String, IndexKrate>) -> MemoryIndex {
    let mut index = MemoryIndex::new();
    add_to_index(&mut index, plugins, |name| plugins.contains_key(name));
    index
}

/// Adds fetched plugins to `index`; a dependency counts as a plugin when
/// `is_plugin` says so.
pub fn add_to_index(
    index: &mut MemoryIndex,
    plugins: &BTreeMap<String, IndexKrate>,
    is_plugin: impl Fn(&str) -> bool,
) {
    for (name, krate) in plugins {
        for version in &krate.versions {
            let Ok(parsed) = Version::parse(&version.version) else {
                continue;
            };
            let mut manifest = Manifest {
                dependencies: Vec::new(),
                api: VersionReq::STAR,
                conflicts: Vec::new(),
            };
            for dep in version
                .deps
                .iter()
                .filter(|d| d.kind() == DependencyKind::Normal)
            {
                let req = dep.version_requirement();
                if dep.crate_name() == API_CRATE {
                    manifest.api = req;
                } else if is_plugin(dep.crate_name()) {
                    manifest
                        .dependencies
                        .push((dep.crate_name().to_owned(), req));
                }
            }
            index.add(name, parsed, version.yanked, manifest);
        }
    }
}
