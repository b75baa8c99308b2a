//! Where plugins come from: local directories, git repositories (through
//! the git cache) and registries, and what the lock in force says of them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use scope_lockfile::{GitReference, Lockfile, PinSource, PluginSpec};
use scope_registry_client::git::{GitCache, GitError, GitUrl};
use scope_resolver::Unlock;

use super::registries::Registries;
use crate::home::{CacheBucket, Home};
use crate::output::error::Hinted;
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
        }
    }

    /// Finds the plugin a spec points at: a directory as it is now; a git
    /// repository at its locked commit when the lock has this very spec,
    /// else at the commit its branch, tag or revision names now.
    pub fn locate(&self, spec: &PluginSpec) -> Result<Located> {
        match spec {
            PluginSpec::Path { path } => {
                let krate = PluginCrate::read(path)?;
                let source = PinSource::Path {
                    path: krate.dir.clone(),
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

/// A directory spec made absolute against the working directory, `~/`
/// against the user's home.
pub fn absolute(spec: PluginSpec, settings: &Settings) -> Result<PluginSpec> {
    let PluginSpec::Path { path } = spec else {
        return Ok(spec);
    };
    let expanded = match (path.strip_prefix("~"), &settings.user_home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path,
    };
    // `./fx` reads as `fx`: no `.` components in what is shown or stored.
    let absolute: PathBuf = settings
        .working_dir
        .join(expanded)
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect();
    let canonical: PathBuf = fs_err::canonicalize(&absolute).map_err(|_| {
        Hinted::new(
            format!("`{}` does not exist", absolute.display()),
            "check the path of the plugin's directory",
        )
    })?;
    Ok(PluginSpec::Path { path: canonical })
}
