//! The home's cache (`<home>/cache/`): one [`CacheBucket`] per kind of
//! entry. Everything in it can be deleted at any time at the cost of time;
//! `gc` and `doctor` walk the same buckets as the code that fills them.

use std::path::{Path, PathBuf};

/// One directory of the cache and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheBucket {
    /// Registry index entries and downloads, one directory per registry:
    /// `registry/<name>/` (index cache) and `registry/<name>/downloads/<sha256>.crate`.
    Registry,
    /// Unpacked registry crates: `registry/src/<name>-<version>-<sha256 prefix>/`.
    Unpacked,
    /// Bare git repositories, one per normalised URL: `git/db/<key>/`.
    GitDb,
    /// Git checkouts: `git/checkouts/<key>/<commit>/`.
    GitCheckouts,
}

impl CacheBucket {
    /// The bucket's directory under `cache`.
    pub fn path_in(self, cache: &Path) -> PathBuf {
        match self {
            CacheBucket::Registry => cache.join("registry"),
            CacheBucket::Unpacked => cache.join("registry").join("src"),
            CacheBucket::GitDb => CacheBucket::git(cache).join("db"),
            CacheBucket::GitCheckouts => CacheBucket::git(cache).join("checkouts"),
        }
    }

    /// The git cache's root, holding [`CacheBucket::GitDb`] and [`CacheBucket::GitCheckouts`].
    pub fn git(cache: &Path) -> PathBuf {
        cache.join("git")
    }

    /// Where a registry's downloads are kept.
    pub fn downloads(cache: &Path, registry: &str) -> PathBuf {
        CacheBucket::Registry
            .path_in(cache)
            .join(registry)
            .join("downloads")
    }

    /// The directory an unpacked crate is kept in.
    pub fn unpacked(cache: &Path, name: &str, version: &str, checksum: &str) -> PathBuf {
        let short = checksum.get(..16).unwrap_or(checksum);
        CacheBucket::Unpacked
            .path_in(cache)
            .join(format!("{name}-{version}-{short}"))
    }

    /// Whether an unpacked crate's directory name belongs to `checksum`.
    pub fn unpacked_for(dir_name: &str, checksum: &str) -> bool {
        dir_name.ends_with(checksum.get(..16).unwrap_or(checksum))
    }
}
