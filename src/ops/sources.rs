//! Where plugins come from: local directories, git repositories (through
//! the git cache) and registries, and what the lock in force says of them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use scope_lockfile::{GitReference, Lockfile, PinSource, PluginSpec};
use scope_registry_client::git::{GitCache, GitError, GitUrl};
use scope_resolver::Unlock;

use super::registries::Registries;
use crate::error::Hinted;
use crate::home::{CacheBucket, Home};
use crate::plugin_crate::PluginCrate;
use crate::reporter::Reporter;
use crate::settings::Settings;

/// A plugin found where its spec points.
#[derive(Debug, Clone)]
pub struct Located {
    /// The crate.
    pub krate: PluginCrate,
    /// Its exact source for the lock.
    pub source: PinSource,
}

/// Where plugins come from: git caches, registries, and what is locked.
pub struct Sources<'a> {
    /// The git cache.
    pub git: GitCache,
    /// The registries.
    pub registries: Registries,
    /// The lock in force, to keep locked commits.
    pub locked: Option<&'a Lockfile>,
    /// Which locked plugins may move (`update`).
    pub unlock: Unlock,
    /// Use only what is cached.
    pub offline: bool,
    /// Where relative `path` specs are read from: the directory that holds
    /// `plugins.toml`.
    pub plugins_dir: PathBuf,
}

impl<'a> Sources<'a> {
    /// The sources of `home`, with the registries `plugins.toml` names.
    pub fn of(
        home: &Home,
        locked: Option<&'a Lockfile>,
        named_registries: BTreeMap<String, String>,
        settings: &Settings,
        reporter: Arc<dyn Reporter>,
    ) -> Sources<'a> {
        Sources {
            git: GitCache::new(CacheBucket::git(&home.cache_dir()), &settings.http),
            registries: Registries::new(&home.cache_dir(), named_registries, settings, reporter),
            locked,
            unlock: Unlock::Nothing,
            offline: settings.offline,
            plugins_dir: home.root().to_owned(),
        }
    }

    /// Finds the plugin a spec points at: a directory as it is now; a git
    /// repository at its locked commit when the lock has this very spec,
    /// else at the commit its branch, tag or revision names now.
    pub fn locate(&self, spec: &PluginSpec) -> Result<Located> {
        match spec {
            PluginSpec::Path { path } => {
                let krate = PluginCrate::read(&self.plugins_dir.join(path))?;
                // The lock records the path as plugins.toml does, so it
                // reads the same at any checkout path.
                let source = PinSource::Path {
                    path: path
                        .components()
                        .filter(|c| *c != Component::CurDir)
                        .collect(),
                };
                Ok(Located { krate, source })
            }
            PluginSpec::Git { url, reference } => {
                let git_url = GitUrl::parse(url)?;
                let locked = self
                    .locked
                    .into_iter()
                    .flat_map(|l| &l.plugins)
                    .filter(|pin| !self.unlocks(pin.name.normalized()))
                    .find_map(|pin| match &pin.source {
                        PinSource::Git {
                            url: u,
                            reference: r,
                            commit,
                        } if GitUrl::parse(u)
                            .is_ok_and(|g| g.normalized() == git_url.normalized())
                            && r == reference =>
                        {
                            Some(commit.clone())
                        }
                        _ => None,
                    });
                let wanted = match &locked {
                    Some(commit) => GitReference::Rev(commit.clone()),
                    None => reference.clone(),
                };
                let commit = self
                    .git
                    .locate(&git_url, &wanted, self.offline)
                    .map_err(|err| match err {
                        GitError::NotCached { .. } => Hinted::new(
                            err.to_string(),
                            "run once online, or `scopectl fetch` while online, to cache it",
                        )
                        .into(),
                        other => anyhow::Error::from(other),
                    })?;
                let dir = self.git.checkout(&git_url, commit)?;
                let krate = PluginCrate::read(&dir)?;
                let source = PinSource::Git {
                    url: url.clone(),
                    reference: reference.clone(),
                    commit: commit.to_string(),
                };
                Ok(Located { krate, source })
            }
            PluginSpec::Registry { .. } => {
                anyhow::bail!(
                    "a registry plugin is resolved across its versions, not located from its spec"
                )
            }
        }
    }

    /// Whether the plugin (normalised name) may leave its locked version.
    pub fn unlocks(&self, name: &str) -> bool {
        match &self.unlock {
            Unlock::Nothing => false,
            Unlock::All => true,
            Unlock::Plugins(names) => names.contains(name),
        }
    }
}

/// A directory spec as `plugins.toml` records it, as `cargo add --path`
/// does: a path typed relative (`./fx`, `../fx`) becomes relative to the
/// home, where `plugins.toml` is; an absolute one (or `~/fx`) stays absolute.
/// The directory must exist.
pub fn recorded(spec: PluginSpec, settings: &Settings) -> Result<PluginSpec> {
    let PluginSpec::Path { path } = spec else {
        return Ok(spec);
    };
    let (expanded, typed_relative) = match (path.strip_prefix("~"), &settings.user_home) {
        (Ok(rest), Some(home)) => (home.join(rest), false),
        _ => (path.clone(), path.is_relative()),
    };
    // `./fx` reads as `fx`: no `.` components in what is shown or stored.
    let absolute: PathBuf = settings
        .working_dir
        .join(expanded)
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let canonical: PathBuf = fs_err::canonicalize(&absolute).map_err(|_| {
        Hinted::new(
            format!("`{}` does not exist", absolute.display()),
            "check the path of the plugin's directory",
        )
    })?;
    if !typed_relative {
        return Ok(PluginSpec::Path { path: canonical });
    }
    let home = existing_prefix_canonical(&settings.working_dir.join(&settings.home.root));
    let relative = match pathdiff::diff_paths(&canonical, &home) {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p,
        None => canonical,
    };
    Ok(PluginSpec::Path { path: relative })
}

/// `path` with its longest existing prefix canonicalized (a home that a
/// first install will create does not exist yet, but its parent may be a
/// symlink).
fn existing_prefix_canonical(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut prefix = path.to_path_buf();
    loop {
        if let Ok(canonical) = fs_err::canonicalize(&prefix) {
            return rest.iter().rev().fold(canonical, |p, c| p.join(c));
        }
        match (prefix.file_name().map(ToOwned::to_owned), prefix.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                prefix = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}
