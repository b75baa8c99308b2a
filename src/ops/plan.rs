//! From a `plugins.toml` to pins: gather every candidate (local and git
//! plugins offer one version each, registry plugins every version their
//! index lists), resolve with the resolver, turn the resolution into the
//! lock's pins, and fetch the crate of every pin.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use scope_lockfile::{Lockfile, Pin, PinSource, PluginSpec, PluginsToml};
use scope_name::PluginName;
use scope_registry_client::plugins::add_to_index;
use scope_resolver::{Manifest, MemoryIndex, Origin, Request, Resolution, ResolveError};
use semver::{Version, VersionReq};
use tame_index::IndexKrate;

use super::registries::DEFAULT_REGISTRY;
use super::sources::{Located, Sources};
use crate::change::Change;
use crate::error::Hinted;
use crate::plugin_crate::PluginCrate;
use crate::reporter::Reporter;

/// A `plugins.toml` to reach, with the sources to reach it from.
pub struct Planner<'a> {
    /// Where plugins are found.
    pub sources: &'a Sources<'a>,
    /// The `plugins.toml` to reach.
    pub desired: &'a PluginsToml,
}

/// Every plugin a change can choose from.
pub struct Gathered {
    located: Vec<Located>,
    /// Registry crates by name: the registry they come from and their index entry.
    registry: BTreeMap<String, (String, IndexKrate)>,
}

impl Gathered {
    /// A registry pin's yanked flag and publish time, from its index entry.
    pub fn published(&self, pin: &Pin) -> Option<crate::policy::check::Published> {
        let (_, krate) = self.registry.get(pin.name.as_str())?;
        let wanted = pin.version.to_string();
        let version = krate.versions.iter().find(|v| v.version == wanted)?;
        Some(crate::policy::check::Published {
            yanked: version.yanked,
            time: version.pubtime.as_ref().map(|t| t.to_string()),
        })
    }

    /// The fingerprint of every editable (path) plugin's sources now, by
    /// normalised name.
    pub fn fingerprints(&self) -> Result<BTreeMap<String, String>> {
        self.located
            .iter()
            .filter(|l| matches!(l.source, PinSource::Path { .. }))
            .map(|l| Ok((scope_name::normalize(&l.krate.name), l.krate.fingerprint()?)))
            .collect()
    }
}

impl Planner<'_> {
    /// Finds every candidate: local and git plugins where their specs point,
    /// registry plugins (and the plugins they depend on) in their indexes.
    pub fn gather(&self) -> Result<Gathered> {
        let mut located = Vec::new();
        let mut wanted: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for (name, spec) in self.desired.plugins() {
            if let PluginSpec::Registry { registry, .. } = spec {
                wanted
                    .entry(registry.clone())
                    .or_default()
                    .push(name.to_string());
                continue;
            }
            let found = self.sources.locate(spec).with_context(|| match spec {
                PluginSpec::Path { .. } => Hinted::new(
                    format!("cannot use plugin `{name}`"),
                    format!("fix its `path` in plugins.toml, or `scopectl uninstall {name}`"),
                ),
                _ => Hinted::new(
                    format!("cannot use plugin `{name}`"),
                    "check the repository's URL and that it is reachable (or cached, offline)",
                ),
            })?;
            if found.krate.plugin_name()? != *name {
                bail!(
                    "`{}` in plugins.toml points at the crate `{}`; the entry must be named after its crate",
                    name,
                    found.krate.name
                );
            }
            located.push(found);
        }
        let mut registry = BTreeMap::new();
        for (from, names) in wanted {
            let label = from.clone().unwrap_or_else(|| DEFAULT_REGISTRY.to_owned());
            for (name, krate) in self.sources.registries.collect(from.as_deref(), &names)? {
                registry.insert(name, (label.clone(), krate));
            }
        }
        Ok(Gathered { located, registry })
    }

    /// The resolver's index and request for everything gathered.
    pub fn problem(&self, gathered: &Gathered) -> Result<(MemoryIndex, Request)> {
        let located = &gathered.located;
        let names: Vec<String> = located
            .iter()
            .map(|l| scope_name::normalize(&l.krate.name))
            .chain(gathered.registry.keys().map(|n| scope_name::normalize(n)))
            .collect();
        let mut index = MemoryIndex::new();
        let krates: BTreeMap<String, IndexKrate> = gathered
            .registry
            .iter()
            .map(|(name, (_, krate))| (name.clone(), krate.clone()))
            .collect();
        add_to_index(&mut index, &krates, |name| {
            names.contains(&scope_name::normalize(name))
        });
        let mut request = Request::new(Version::parse(scope_plugin_api::API_VERSION)?);
        for (name, spec) in self.desired.plugins() {
            if let PluginSpec::Registry { req, .. } = spec {
                request = request.require(name, req.clone());
            }
        }
        for l in located {
            let version = Version::parse(&l.krate.version)?;
            let api = VersionReq::parse(&l.krate.api_requirement).with_context(|| {
                format!(
                    "`{}` has an invalid scope-plugin-api requirement",
                    l.krate.name
                )
            })?;
            let dependencies = l
                .krate
                .dependencies
                .iter()
                .filter(|(dep, _)| names.contains(&scope_name::normalize(dep)))
                .map(|(dep, req)| Ok((dep.clone(), VersionReq::parse(req)?)))
                .collect::<Result<Vec<_>>>()?;
            let manifest = Manifest {
                dependencies,
                api,
                conflicts: l.krate.conflicts.clone(),
            };
            index.add(&l.krate.name, version.clone(), false, manifest);
            let name = l.krate.plugin_name()?;
            request = request
                .require(&name, VersionReq::parse(&format!("={version}"))?)
                .origin(&name, origin(&l.source));
        }
        if let Some(lock) = self.sources.locked {
            for pin in &lock.plugins {
                request = request.lock(&pin.name, pin.version.clone());
            }
        }
        request.unlock = self.sources.unlock.clone();
        Ok((index, request))
    }

    /// Runs the resolver over everything gathered.
    pub fn solve(&self, gathered: &Gathered) -> Result<Resolution> {
        let (index, request) = self.problem(gathered)?;
        match scope_resolver::resolve(&index, &request) {
            Ok(resolution) => Ok(resolution),
            Err(ResolveError::NoSolution(report)) => Err(Hinted::new(
                format!("no set of plugin versions works:\n{}", report.text),
                report.hint,
            )
            .into()),
            Err(other) => Err(other.into()),
        }
    }

    /// Chooses versions and says which locked plugins had to move, and why.
    pub fn resolve(&self, gathered: &Gathered, reporter: &dyn Reporter) -> Result<Vec<Pin>> {
        let resolution = self.solve(gathered)?;
        for moved in &resolution.moved {
            reporter.status(
                "Moving",
                &format!(
                    "{} {} -> {} (locked, but {})",
                    moved.plugin, moved.from, moved.to, moved.by
                ),
            );
        }
        pins(gathered, &resolution)
    }

    /// The crate of every pin: local and git plugins where they were found,
    /// registry plugins downloaded, verified and unpacked.
    pub fn materialize(&self, gathered: &Gathered, pins: &[Pin]) -> Result<Vec<PluginCrate>> {
        let mut crates = Vec::new();
        for pin in pins {
            let krate = match &pin.source {
                PinSource::Registry { registry, checksum } => {
                    let dir = self.sources.registries.fetch_source(
                        registry,
                        pin.name.as_str(),
                        &pin.version.to_string(),
                        checksum,
                    )?;
                    PluginCrate::read(&dir)?
                }
                _ => gathered
                    .located
                    .iter()
                    .find(|l| l.krate.name == pin.name.as_str())
                    .map(|l| l.krate.clone())
                    .context("a local or git pin was located")?,
            };
            crates.push(krate);
        }
        refuse_conflicts(&crates)?;
        Ok(crates)
    }
}

/// Where a path or git plugin comes from, as messages name it: its source
/// as `plugins.toml` writes it, and the manifest holding its requirements.
fn origin(source: &PinSource) -> Origin {
    match source {
        PinSource::Path { path } => {
            let mut shown = path.display().to_string();
            if path.is_relative() && !shown.starts_with('.') {
                shown = format!("./{shown}");
            }
            Origin {
                manifest: format!("{shown}/Cargo.toml"),
                source: shown,
            }
        }
        PinSource::Git { url, commit, .. } => Origin {
            source: url.clone(),
            manifest: format!(
                "the Cargo.toml of {url} at {}",
                &commit[..commit.len().min(8)]
            ),
        },
        PinSource::Registry { registry, .. } => Origin {
            source: format!("registry {registry}"),
            manifest: "its Cargo.toml".to_owned(),
        },
    }
}

/// The lock's pins for a resolution, sorted.
fn pins(gathered: &Gathered, resolution: &Resolution) -> Result<Vec<Pin>> {
    let chosen = |dep: &str| -> Option<PluginName> {
        let name = PluginName::new(dep).ok()?;
        resolution.plugins.contains_key(&name).then_some(name)
    };
    let mut pins = Vec::new();
    for (name, pick) in &resolution.plugins {
        if let Some(l) = gathered
            .located
            .iter()
            .find(|l| name.matches(&l.krate.name))
        {
            pins.push(Pin {
                name: l.krate.plugin_name()?,
                version: pick.version.clone(),
                source: l.source.clone(),
                dependencies: l
                    .krate
                    .dependencies
                    .iter()
                    .filter_map(|(dep, _)| chosen(dep))
                    .collect(),
            });
            continue;
        }
        let (registry, krate) = gathered
            .registry
            .iter()
            .find(|(n, _)| name.matches(n))
            .map(|(_, found)| found)
            .with_context(|| format!("the resolver chose `{name}`, which was not gathered"))?;
        let version = krate
            .versions
            .iter()
            .find(|v| Version::parse(&v.version).ok().as_ref() == Some(&pick.version))
            .with_context(|| format!("the index of `{name}` does not list {}", pick.version))?;
        pins.push(Pin {
            name: PluginName::new(krate.name())?,
            version: pick.version.clone(),
            source: PinSource::Registry {
                registry: registry.clone(),
                checksum: version.checksum.to_string(),
            },
            dependencies: version
                .deps
                .iter()
                .filter_map(|d| chosen(d.crate_name()))
                .collect(),
        });
    }
    let mut lock = Lockfile {
        host_version: Version::new(0, 0, 0),
        api_version: Version::new(0, 0, 0),
        plugins: pins,
        crates: vec![],
        artifacts: Vec::new(),
    };
    lock.normalize();
    Ok(lock.plugins)
}

/// Registry plugins declare `conflicts` inside their crate, which the index
/// does not carry: checked here, once their sources are unpacked.
fn refuse_conflicts(chosen: &[PluginCrate]) -> Result<()> {
    for krate in chosen {
        for other in &krate.conflicts {
            if chosen
                .iter()
                .any(|k| scope_name::normalize(&k.name) == scope_name::normalize(other))
            {
                return Err(Hinted::new(
                    format!("{} {} conflicts with {other} ([package.metadata.scope] conflicts); nothing was changed", krate.name, krate.version),
                    format!("{} and {other} cannot be installed together: uninstall one of them", krate.name),
                )
                .into());
            }
        }
    }
    Ok(())
}

/// How the plugins differ from `old` to `new`, in name order.
pub fn describe_changes(old: &[Pin], new: &[Pin]) -> Vec<Change> {
    let old: BTreeMap<&PluginName, &Pin> = old.iter().map(|p| (&p.name, p)).collect();
    let new: BTreeMap<&PluginName, &Pin> = new.iter().map(|p| (&p.name, p)).collect();
    let mut names: Vec<&PluginName> = old.keys().chain(new.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let named = || name.to_string();
            match (old.get(name), new.get(name)) {
                (None, Some(n)) => Some(Change::Added {
                    name: named(),
                    version: n.version.clone(),
                }),
                (Some(o), None) => Some(Change::Removed {
                    name: named(),
                    version: o.version.clone(),
                }),
                (Some(o), Some(n)) if o.version != n.version => Some(Change::Moved {
                    name: named(),
                    from: o.version.clone(),
                    to: n.version.clone(),
                }),
                (Some(o), Some(n)) if o.source != n.source => Some(match (&o.source, &n.source) {
                    (PinSource::Git { commit: a, .. }, PinSource::Git { commit: b, .. }) => {
                        Change::CommitMoved {
                            name: named(),
                            version: n.version.clone(),
                            from: a.clone(),
                            to: b.clone(),
                        }
                    }
                    _ => Change::SourceChanged {
                        name: named(),
                        version: n.version.clone(),
                    },
                }),
                _ => None,
            }
        })
        .collect()
}

/// Runs `f` with a planner over the home's files as they are now, reading
/// only: no lock, nothing written (`why`, `update --check`).
pub fn read_only<T>(
    home: &crate::home::Home,
    settings: &crate::settings::Settings,
    reporter: std::sync::Arc<dyn Reporter>,
    f: impl FnOnce(&Planner<'_>) -> Result<T>,
) -> Result<T> {
    let _reading = home.reading_cache(settings.lock_timeout, reporter.as_ref())?;
    let locked = home.lock_file()?;
    let desired = home.plugins_toml()?;
    let sources = Sources::of(
        home,
        locked.as_ref(),
        desired.registries().clone(),
        settings,
        reporter,
    );
    f(&Planner {
        sources: &sources,
        desired: &desired,
    })
}
