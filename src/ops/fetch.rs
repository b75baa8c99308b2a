//! `fetch`: everything `resolved.lock` needs, downloaded into the caches —
//! git commits, registry `.crate`s (verified and unpacked) and the host's
//! third-party crates (through `cargo fetch`) — so that a later
//! `sync --frozen` works with no network, as `cargo fetch` makes
//! `cargo build --frozen` work.

use std::sync::Arc;

use anyhow::Result;

use super::plan::Planner;
use super::sources::Sources;
use crate::artifacts::{Store, StoreLock, Wanted};
use crate::error::Hinted;
use crate::home::{Home, Transaction};
use crate::host_build::{Graph, HostBuilder};
use crate::reporter::Reporter;
use crate::settings::Settings;

/// What was fetched.
#[derive(Debug)]
pub struct Fetched {
    /// Plugins whose sources are now cached.
    pub plugins: usize,
    /// Crates of the host's graph, as the lock records them.
    pub crates: usize,
    /// Artifacts the plugins declare, now in the store.
    pub artifacts: usize,
}

/// Fetches what the home's lock needs.
pub fn fetch(home: &Home, settings: &Settings, reporter: Arc<dyn Reporter>) -> Result<Fetched> {
    // The caches are shared with changes: fill them under the home's lock.
    let _transaction = Transaction::begin(home, settings.lock_timeout, reporter.as_ref())?;
    let Some(locked) = home.lock_file()? else {
        return Err(Hinted::new(
            format!(
                "{} is missing: nothing to fetch",
                home.resolved_lock_path().display()
            ),
            "run `scopectl sync` to resolve plugins.toml into resolved.lock",
        )
        .into());
    };
    let desired = home.plugins_toml()?;
    let sources = Sources::of(
        home,
        Some(&locked),
        desired.registries().clone(),
        settings,
        reporter.clone(),
    );
    let planner = Planner {
        sources: &sources,
        desired: &desired,
    };
    let gathered = planner.gather()?;
    let pins = planner.resolve(&gathered, reporter.as_ref())?;
    if settings.locked && pins != locked.plugins {
        return Err(super::change::lock_would_change(&locked.plugins, &pins));
    }
    let plugins = planner.materialize(&gathered, &pins)?;
    let graph = if settings.locked && !locked.crates.is_empty() {
        Graph::Locked(&locked.crates)
    } else {
        Graph::Keep(&locked.crates)
    };
    // Both wait on the network: side by side.
    let (crates, artifacts) = std::thread::scope(|scope| {
        let crates = scope.spawn(|| {
            reporter.status("Fetching", "the host's crates (cargo fetch)");
            HostBuilder::new(&home.build_dir(), &settings.build).fetch(&plugins, &graph)
        });
        let artifacts = artifacts(home, settings, &plugins, reporter.as_ref());
        (crates.join(), artifacts)
    });
    let crates = crates.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let (artifacts, _store) = match (crates, artifacts) {
        (Ok(()), artifacts) => artifacts?,
        (Err(crates), Ok(_)) => return Err(crates),
        (Err(crates), Err(artifacts)) => {
            reporter.warn(&format!("{artifacts:#}"));
            return Err(crates);
        }
    };
    Ok(Fetched {
        plugins: plugins.len(),
        crates: locked.crates.len(),
        artifacts: artifacts.len(),
    })
}

/// Every artifact `plugins` declare, verified in the user's artifact store
/// (fetched when missing), as `resolved.lock` records them; the home is
/// registered with the store so that `gc` keeps what it pins. The store's
/// lock comes with them: hold it until the generation that pins them is
/// committed.
pub fn artifacts(
    home: &Home,
    settings: &Settings,
    plugins: &[crate::plugin_crate::PluginCrate],
    reporter: &dyn Reporter,
) -> Result<(Vec<scope_lockfile::ArtifactPin>, Option<StoreLock>)> {
    let wanted: Vec<Wanted> = plugins
        .iter()
        .flat_map(|p| {
            p.artifacts.iter().map(|declared| Wanted {
                plugin: p.name.clone(),
                declared: declared.clone(),
            })
        })
        .collect();
    if wanted.is_empty() {
        return Ok((Vec::new(), None));
    }
    let (fetched, lock) = Store::of(settings)?.provide(home.root(), &wanted, settings, reporter)?;
    let pins = fetched
        .into_iter()
        .map(|f| scope_lockfile::ArtifactPin {
            plugin: f.plugin,
            name: f.declared.name,
            sha256: f.declared.sha256,
            size: f.declared.size,
            url: f.url,
            unpack: f.declared.unpack,
        })
        .collect();
    Ok((pins, Some(lock)))
}
