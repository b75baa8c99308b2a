//! The home: the one directory that holds a user's plugin state, and the
//! only module that changes it.
//!
//! ```text
//! <home>/plugins.toml            what the user asked for
//! <home>/resolved.lock           exactly what was chosen
//! <home>/generations/<N>/        one immutable snapshot per successful change
//! <home>/current -> generations/<N>
//! <home>/bin/scope-host -> ../current/scope-host
//! <home>/.lock, .transaction     the home's lock and the journal of a change in progress
//! <home>/run/<name>/             one `scopectl run` while it runs: pid, control.sock
//! <home>/build/                  disposable: the generated host crate, target directory
//! <home>/cache/                  disposable: downloads, unpacked crates, git (see [`CacheBucket`])
//! ```
//!
//! [`Home`] reads: paths, the files, the active generation. Only a
//! [`Transaction`] writes `plugins.toml`, `resolved.lock`, `current` and
//! `generations/`, so every change is journaled and crash-safe, and readers
//! never see a half-made one.

mod cache;
mod generation;
mod journal;
mod lock;
mod rollbacks;
mod transaction;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scope_lockfile::{Lockfile, PluginsToml};

pub use cache::CacheBucket;
pub use generation::{GenerationInfo, NewGeneration};
pub use lock::HomeLock;
pub use rollbacks::AutomaticRollback;
pub use transaction::{leftovers, Transaction};

use crate::settings::HomeLocation;
use journal::Journal;

/// The name of the host binary inside a generation and under `bin/`.
pub const HOST_BINARY: &str = if cfg!(windows) {
    "scope-host.exe"
} else {
    "scope-host"
};

/// A home directory.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home at `location`, created when missing.
    pub fn open(location: &HomeLocation) -> Result<Home> {
        let root = &location.root;
        fs_err::create_dir_all(root).with_context(|| {
            format!(
                "cannot create the home `{}` (from {})",
                root.display(),
                location.from
            )
        })?;
        Ok(Home {
            root: fs_err::canonicalize(root)?,
        })
    }

    /// The home at `location` as it is, for reading only: a home that does
    /// not exist is not created (it reads as empty). `--dry-run` uses it.
    pub fn at(location: &HomeLocation) -> Home {
        Home {
            root: fs_err::canonicalize(&location.root).unwrap_or_else(|_| location.root.clone()),
        }
    }

    /// The home at `location`, which must exist: read-only commands never
    /// create one, so a mistyped `SCOPE_HOME` is not taken for an empty install.
    pub fn existing(location: &HomeLocation) -> Result<Home> {
        match fs_err::canonicalize(&location.root) {
            Ok(root) if root.is_dir() => Ok(Home { root }),
            _ => Err(crate::error::Hinted::new(
                format!(
                    "no home at {} (from {})",
                    location.root.display(),
                    location.from
                ),
                "check --home and SCOPE_HOME; a home is created by the first install",
            )
            .into()),
        }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `plugins.toml`.
    pub fn plugins_toml_path(&self) -> PathBuf {
        self.root.join("plugins.toml")
    }

    /// `resolved.lock`.
    pub fn resolved_lock_path(&self) -> PathBuf {
        self.root.join("resolved.lock")
    }

    /// The home's `plugins.toml`, or an empty one.
    pub fn plugins_toml(&self) -> Result<PluginsToml> {
        read_plugins_toml(&self.plugins_toml_path())
    }

    /// The home's `resolved.lock`, if there is one.
    pub fn lock_file(&self) -> Result<Option<Lockfile>> {
        read_lock(&self.resolved_lock_path())
    }

    /// The `resolved.lock` of generation `n`.
    pub fn generation_lock(&self, n: u64) -> Result<Option<Lockfile>> {
        read_lock(&self.generation_dir(n).join("resolved.lock"))
    }

    /// The `plugins.toml` text of generation `n`.
    pub fn generation_plugins_toml(&self, n: u64) -> Option<String> {
        fs_err::read_to_string(self.generation_dir(n).join("plugins.toml")).ok()
    }

    /// Disposable build state.
    pub fn build_dir(&self) -> PathBuf {
        self.root.join("build")
    }

    /// The cache's root; its buckets are [`CacheBucket`]s.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// A bucket of the cache.
    pub fn cache(&self, bucket: CacheBucket) -> PathBuf {
        bucket.path_in(&self.cache_dir())
    }

    /// Where `scopectl new` writes the SDK its plugins build against.
    pub fn sdk_dir(&self) -> PathBuf {
        self.root.join("sdk")
    }

    /// The pid file of `scopectl run`.
    /// Where running supervisors keep their pid and sockets.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    fn generations_dir(&self) -> PathBuf {
        self.root.join("generations")
    }

    /// `generations/<n>/`.
    pub fn generation_dir(&self, n: u64) -> PathBuf {
        self.generations_dir().join(n.to_string())
    }

    /// `bin/scope-host`: the stable path of the active host.
    pub fn host_path(&self) -> PathBuf {
        self.root.join("bin").join(HOST_BINARY)
    }

    /// The number of the active generation, if any.
    pub fn current(&self) -> Option<u64> {
        let target = fs_err::read_link(self.root.join("current")).ok()?;
        target.file_name()?.to_str()?.parse().ok()
    }

    /// The numbers of every complete generation, ascending.
    pub fn generations(&self) -> Result<Vec<u64>> {
        let mut numbers = Vec::new();
        if let Ok(entries) = fs_err::read_dir(self.generations_dir()) {
            for entry in entries {
                let name = entry?.file_name();
                if let Some(n) = name.to_str().and_then(|s| s.parse().ok()) {
                    numbers.push(n);
                }
            }
        }
        // A generation an unfinished change is about to create is not one
        // yet: readers never see a half-made change.
        if let Some(Ok(journal)) = Journal::read(&self.root) {
            if journal.created && self.current() != Some(journal.new) {
                numbers.retain(|&n| n != journal.new);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// Generation `n`'s metadata.
    pub fn generation(&self, n: u64) -> Result<GenerationInfo> {
        GenerationInfo::read(self, n)
    }

    /// Takes the home's lock for a change; see [`Transaction::begin`].
    fn lock(
        &self,
        timeout: Option<std::time::Duration>,
        reporter: &dyn crate::reporter::Reporter,
    ) -> Result<HomeLock> {
        lock::lock(&self.root, lock::Hold::Change, timeout, reporter)
    }

    /// For a command that reads the home without changing it but may add
    /// to its cache: holds `gc` off the cache until dropped. `None` when
    /// the home does not exist (there is no cache to collect).
    pub fn reading_cache(
        &self,
        timeout: Option<std::time::Duration>,
        reporter: &dyn crate::reporter::Reporter,
    ) -> Result<Option<HomeLock>> {
        if !self.root.is_dir() {
            return Ok(None);
        }
        lock::lock(&self.root, lock::Hold::CacheShared, timeout, reporter).map(Some)
    }

    /// For `gc`, deleting from the cache: waits for the commands reading it.
    pub fn collecting_cache(
        &self,
        timeout: Option<std::time::Duration>,
        reporter: &dyn crate::reporter::Reporter,
    ) -> Result<HomeLock> {
        lock::lock(&self.root, lock::Hold::CacheExclusive, timeout, reporter)
    }
}

fn read_plugins_toml(path: &Path) -> Result<PluginsToml> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(PluginsToml::parse(path, &text)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(PluginsToml::empty(path)),
        Err(err) => Err(err.into()),
    }
}

fn read_lock(path: &Path) -> Result<Option<Lockfile>> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(Some(Lockfile::parse(path, &text)?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_locker_waits_then_gives_up_after_the_timeout() {
        let temp = tempfile::tempdir().unwrap();
        let home = Home::open(&HomeLocation {
            root: temp.path().to_owned(),
            from: "--home",
        })
        .unwrap();
        let held = home.lock(None, &crate::reporter::Silent).unwrap();
        let err = home
            .lock(
                Some(std::time::Duration::from_millis(200)),
                &crate::reporter::Silent,
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("gave up after 0.2 s waiting for the lock on"),
            "{err}"
        );
        drop(held);
        home.lock(Some(std::time::Duration::ZERO), &crate::reporter::Silent)
            .unwrap();
    }
}
