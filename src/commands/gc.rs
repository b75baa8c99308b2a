//! `scopectl gc [--keep N]`: delete old generations (never the current
//! one), then the cached sources no remaining generation pins: downloads,
//! unpacked crates, git checkouts and repositories. Index caches stay: they
//! are small and revalidated anyway.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use scope_lockfile::PinSource;
use scope_registry_client::git::GitUrl;

use crate::change::read_lock;
use crate::home::Home;
use crate::printer::Printer;
use crate::transaction::Transaction;

pub fn gc(home: &Home, keep: usize, printer: &Printer) -> Result<ExitCode> {
    let _transaction = Transaction::begin(home, printer)?;
    let current = home.current();
    let generations = home.generations()?;
    let newest: Vec<u64> = generations.iter().rev().take(keep).copied().collect();
    let mut removed = Vec::new();
    for &n in &generations {
        if Some(n) != current && !newest.contains(&n) {
            fs_err::remove_dir_all(home.generation_dir(n))?;
            removed.push(n.to_string());
        }
    }
    if removed.is_empty() {
        printer.status("Fresh", "no generation to delete");
    } else {
        printer.status("Removed", format!("generation(s) {}", removed.join(", ")));
    }
    let freed = collect_cache(home)?;
    if freed > 0 {
        printer.status(
            "Removed",
            format!(
                "{freed} unreferenced cache entr{}",
                if freed == 1 { "y" } else { "ies" }
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What the remaining generations (and the home's own lock) pin.
#[derive(Default)]
struct Referenced {
    /// Registry checksums.
    checksums: BTreeSet<String>,
    /// Git repositories (cache keys) and commits.
    repositories: BTreeSet<String>,
    commits: BTreeSet<String>,
}

fn referenced(home: &Home) -> Result<Referenced> {
    let mut refs = Referenced::default();
    let mut locks = vec![home.resolved_lock()];
    locks.extend(
        home.generations()?
            .into_iter()
            .map(|n| home.generation_dir(n).join("resolved.lock")),
    );
    for path in locks {
        for pin in read_lock(&path)
            .ok()
            .flatten()
            .into_iter()
            .flat_map(|l| l.plugins)
        {
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
    }
    Ok(refs)
}

/// Removes unreferenced cache entries; returns how many.
fn collect_cache(home: &Home) -> Result<usize> {
    let refs = referenced(home)?;
    let cache = home.root().join("cache");
    let mut freed = 0;
    let mut remove_unless = |path: &Path, keep: bool| -> Result<()> {
        if !keep {
            if path.is_dir() {
                fs_err::remove_dir_all(path)?;
            } else {
                fs_err::remove_file(path)?;
            }
            freed += 1;
        }
        Ok(())
    };
    for registry in entries(&cache.join("registry")) {
        for download in entries(&registry.join("downloads")) {
            let checksum = download
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_owned();
            remove_unless(&download, refs.checksums.contains(&checksum))?;
        }
    }
    // Unpacked crates are named `<name>-<version>-<first 16 of the checksum>`.
    for unpacked in entries(&cache.join("registry").join("src")) {
        let name = unpacked
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_owned();
        let keep = refs
            .checksums
            .iter()
            .any(|c| name.ends_with(c.get(..16).unwrap_or(c)));
        remove_unless(&unpacked, keep)?;
    }
    for repository in entries(&cache.join("git").join("checkouts")) {
        for checkout in entries(&repository) {
            let commit = checkout
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_owned();
            remove_unless(&checkout, refs.commits.contains(&commit))?;
        }
    }
    for database in entries(&cache.join("git").join("db")) {
        let key = database
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_owned();
        remove_unless(&database, refs.repositories.contains(&key))?;
    }
    Ok(freed)
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    fs_err::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}
