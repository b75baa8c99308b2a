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
    /// How many artifacts the store freed (no live generation of any home
    /// it knows pins them).
    pub artifacts: usize,
    /// How many bytes the deleted files took.
    pub bytes: u64,
}

/// Keeps the current generation and the `keep` newest ones; deletes the
/// rest, then the cache entries nothing remaining refers to.
pub fn gc(
    transaction: &Transaction<'_>,
    keep: usize,
    store: Option<&crate::artifacts::Store>,
    reporter: &dyn crate::reporter::Reporter,
) -> Result<Collected> {
    let home = transaction.home();
    let current = home.current();
    let generations = home.generations()?;
    let newest: Vec<u64> = generations.iter().rev().take(keep).copied().collect();
    let mut collected = Collected::default();
    for &n in &generations {
        if Some(n) != current && !newest.contains(&n) {
            collected.bytes += crate::fsx::tree_size(&home.generation_dir(n));
            transaction.remove_generation(n)?;
            collected.generations.push(n);
        }
    }
    let _collecting = transaction.collecting_cache()?;
    let (entries, bytes) = collect_cache(home)?;
    collected.cache_entries = entries;
    collected.bytes += bytes;
    if let Some(store) = store {
        let (artifacts, bytes) = collect_artifacts(store, reporter)?;
        collected.artifacts = artifacts;
        collected.bytes += bytes;
    }
    Ok(collected)
}

/// Frees the store's artifacts that no generation of any home it knows
/// pins (nor a home's own `resolved.lock`); a home that no longer exists
/// pins nothing and is forgotten.
fn collect_artifacts(
    store: &crate::artifacts::Store,
    reporter: &dyn crate::reporter::Reporter,
) -> Result<(usize, u64)> {
    // No change is between fetching its artifacts and committing them.
    let _deleting = store.hold(true, reporter)?;
    let mut pinned = BTreeSet::new();
    for (root, record) in store.homes() {
        if !root.join("generations").is_dir() {
            let _ = fs_err::remove_file(record);
            continue;
        }
        let home = Home::at(&crate::settings::HomeLocation {
            root,
            from: "the artifact store",
        });
        let mut locks = vec![home.lock_file().ok().flatten()];
        for n in home.generations().unwrap_or_default() {
            locks.push(home.generation_lock(n).ok().flatten());
        }
        for artifact in locks.into_iter().flatten().flat_map(|l| l.artifacts) {
            pinned.insert(artifact.sha256);
        }
    }
    store.collect(&pinned)
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
        bytes += crate::fsx::tree_size(path);
        if path.is_dir() {
            fs_err::remove_dir_all(path)?;
        } else {
            fs_err::remove_file(path)?;
        }
    }
    Ok((unreferenced.len(), bytes))
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    fs_err::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}
