//! `gc`: delete old generations (never the current one), then the cached
//! sources no remaining generation pins: downloads, unpacked crates, git
//! checkouts and repositories. Index caches stay: they are small and
//! revalidated anyway.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use scope_lockfile::PinSource;
use scope_registry_client::git::GitUrl;

use crate::home::{CacheBucket, Home, Transaction};

/// What `gc` removed.
#[derive(Debug, Default)]
pub struct Collected {
    /// The generations deleted.
    pub generations: Vec<u64>,
    /// How many cache entries were deleted.
    pub cache_entries: usize,
    /// How many bytes the deleted files took.
    pub bytes: u64,
}

/// Keeps the current generation and the `keep` newest ones; deletes the
/// rest, then the cache entries nothing remaining refers to.
pub fn gc(transaction: &Transaction<'_>, keep: usize) -> Result<Collected> {
    let home = transaction.home();
    let current = home.current();
    let generations = home.generations()?;
    let newest: Vec<u64> = generations.iter().rev().take(keep).copied().collect();
    let mut collected = Collected::default();
    for &n in &generations {
        if Some(n) != current && !newest.contains(&n) {
            collected.bytes += size_of(&home.generation_dir(n));
            transaction.remove_generation(n)?;
            collected.generations.push(n);
        }
    }
    let _collecting = transaction.collecting_cache()?;
    let (entries, bytes) = collect_cache(home)?;
    collected.cache_entries = entries;
    collected.bytes += bytes;
    Ok(collected)
}

/// What the remaining generations (and the home's own lock) pin.
#[derive(Default)]
struct Referenced {
    checksums: BTreeSet<String>,
    repositories: BTreeSet<String>,
    commits: BTreeSet<String>,
}

fn referenced(home: &Home) -> Result<Referenced> {
    let mut refs = Referenced::default();
    let mut locks = vec![home.lock_file().ok().flatten()];
    for n in home.generations()? {
        locks.push(home.generation_lock(n).ok().flatten());
    }
    for pin in locks.into_iter().flatten().flat_map(|l| l.plugins) {
        match pin.source {
            PinSource::Registry { checksum, .. } => {
                refs.checksums.insert(checksum);
            }
            PinSource::Git { url, commit, .. } => {
                if let Ok(url) = GitUrl::parse(&url) {
                    refs.repositories.insert(url.cache_key());
                }
                refs.commits.insert(commit);
            }
            PinSource::Path { .. } => {}
        }
    }
    Ok(refs)
}

/// Removes unreferenced cache entries; returns how many, and their bytes.
fn collect_cache(home: &Home) -> Result<(usize, u64)> {
    let refs = referenced(home)?;
    let name_of = |path: &Path| {
        path.file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_owned()
    };
    let mut unreferenced = Vec::new();
    for registry in entries(&home.cache(CacheBucket::Registry)) {
        for download in entries(&registry.join("downloads")) {
            let checksum = name_of(&download).trim_end_matches(".crate").to_owned();
            if !refs.checksums.contains(&checksum) {
                unreferenced.push(download);
            }
        }
    }
    for unpacked in entries(&home.cache(CacheBucket::Unpacked)) {
        let name = name_of(&unpacked);
        if !refs
            .checksums
            .iter()
            .any(|c| CacheBucket::unpacked_for(&name, c))
        {
            unreferenced.push(unpacked);
        }
    }
    for repository in entries(&home.cache(CacheBucket::GitCheckouts)) {
        for checkout in entries(&repository) {
            if !refs.commits.contains(&name_of(&checkout)) {
                unreferenced.push(checkout);
            }
        }
    }
    for database in entries(&home.cache(CacheBucket::GitDb)) {
        if !refs.repositories.contains(&name_of(&database)) {
            unreferenced.push(database);
        }
    }
    let mut bytes = 0;
    for path in &unreferenced {
        bytes += size_of(path);
        if path.is_dir() {
            fs_err::remove_dir_all(path)?;
        } else {
            fs_err::remove_file(path)?;
        }
    }
    Ok((unreferenced.len(), bytes))
}

/// The bytes of the files under `path` (links are not followed).
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs_err::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    entries(path).iter().map(|p| size_of(p)).sum()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    fs_err::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}
