//! Bringing a home to what a `plugins.toml` asks for: locate every plugin,
//! resolve, build the host, probe it, and commit a new generation — or
//! find that nothing changes and do nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use scope_lockfile::{CratePin, GitReference, Lockfile, Pin, PinSource, PluginSpec, PluginsToml};
use scope_registry_client::git::{GitCache, GitRef, GitUrl};
use scope_registry_client::plugins::add_to_index;
use tame_index::IndexKrate;

use crate::registries::{Registries, DEFAULT_REGISTRY};
use scope_resolver::{Manifest, MemoryIndex, Request, ResolveError, Unlock};
use semver::{Version, VersionReq};

use crate::error::Hinted;
use crate::generation::NewGeneration;
use crate::host_build::{HostBuilder, Profile};
use crate::plugin_crate::PluginCrate;
use crate::printer::Printer;
use crate::transaction::{failpoint, Transaction};

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
    /// The git cache (`<home>/cache/git`).
    pub git: GitCache,
    /// The registries (`<home>/cache/registry`).
    pub registries: Registries,
    /// The lock in force, to keep locked commits.
    pub locked: Option<&'a Lockfile>,
    /// Which locked plugins may move (`update`).
    pub unlock: Unlock,
}

impl<'a> Sources<'a> {
    /// The sources of `home`, with the registries `plugins.toml` names.
    pub fn of(
        home: &crate::home::Home,
        locked: Option<&'a Lockfile>,
        named_registries: BTreeMap<String, String>,
        offline: bool,
        printer: &Printer,
    ) -> Sources<'a> {
        let cache = home.root().join("cache");
        Sources {
            git: GitCache::new(cache.join("git")),
            registries: Registries::new(
                &cache.join("registry"),
                named_registries,
                offline,
                printer,
            ),
            locked,
            unlock: Unlock::Nothing,
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
                let wanted = reference_text(reference);
                let locked = self
                    .locked
                    .into_iter()
                    .flat_map(|l| &l.plugins)
                    .filter(|pin| !self.unlocks(&pin.name))
                    .find_map(|pin| match &pin.source {
                        PinSource::Git {
                            url: u,
                            reference: r,
                            commit,
                        } if GitUrl::parse(u).ok().map(|g| g.normalized().to_owned())
                            == Some(git_url.normalized().to_owned())
                            && *r == wanted =>
                        {
                            Some(commit.clone())
                        }
                        _ => None,
                    });
                let git_ref = match &locked {
                    Some(commit) => GitRef::Rev(commit.clone()),
                    None => match reference {
                        GitReference::DefaultBranch => GitRef::DefaultBranch,
                        GitReference::Branch(b) => GitRef::Branch(b.clone()),
                        GitReference::Tag(t) => GitRef::Tag(t.clone()),
                        GitReference::Rev(r) => GitRef::Rev(r.clone()),
                    },
                };
                let commit = self.git.fetch(&git_url, &git_ref)?;
                let dir = self.git.checkout(&git_url, commit)?;
                let krate = PluginCrate::read(&dir)?;
                let source = PinSource::Git {
                    url: url.clone(),
                    reference: wanted,
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
}

/// Every plugin a change can choose from: local and git plugins (one
/// version each) and registry plugins with all their versions.
struct Gathered {
    located: Vec<Located>,
    /// Registry crates by name: the registry they come from and their index entry.
    registry: BTreeMap<String, (String, IndexKrate)>,
}

impl Sources<'_> {
    fn unlocks(&self, name: &str) -> bool {
        match &self.unlock {
            Unlock::Nothing => false,
            Unlock::All => true,
            Unlock::Plugins(names) => names.contains(&name.replace('_', "-")),
        }
    }
}

/// How a git reference is recorded in `resolved.lock`.
fn reference_text(reference: &GitReference) -> String {
    match reference {
        GitReference::DefaultBranch => String::new(),
        GitReference::Branch(b) => format!("branch={b}"),
        GitReference::Tag(t) => format!("tag={t}"),
        GitReference::Rev(r) => format!("rev={r}"),
    }
}

/// What a change does.
pub struct Change<'a> {
    /// Where plugins are found.
    pub sources: &'a Sources<'a>,
    /// The `plugins.toml` to reach.
    pub desired: &'a PluginsToml,
    /// The lock now in force, if any.
    pub locked: Option<&'a Lockfile>,
    /// Rebuild even when nothing changed (`scopectl build`).
    pub rebuild: bool,
    /// Fail if the lock would change (`--locked`).
    pub locked_only: bool,
    /// Build from cargo's cache only.
    pub offline: bool,
    /// The command line, for the generation's metadata.
    pub command: String,
}

/// How a change ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do.
    Unchanged,
    /// `--dry-run`: what would change.
    WouldChange(Vec<String>),
    /// A new generation is active, with these changes.
    Committed(u64, Vec<String>),
    /// `--no-build`: `plugins.toml` and `resolved.lock` were updated; no host was built.
    Recorded(Vec<String>),
}

impl Change<'_> {
    /// What the change would do, touching nothing.
    pub fn dry_run(&self, home: &crate::home::Home) -> Result<Outcome> {
        let gathered = self.gather()?;
        let pins = self.resolve(&gathered)?;
        let old = self.locked.map(|l| l.plugins.clone()).unwrap_or_default();
        let current = home
            .current()
            .and_then(|n| fs_err::read_to_string(home.generation_dir(n).join("plugins.toml")).ok());
        if pins == old && current.as_deref() == Some(self.desired.to_string().as_str()) {
            return Ok(Outcome::Unchanged);
        }
        Ok(Outcome::WouldChange(describe_changes(&old, &pins)))
    }

    /// `--no-build`: records the new `plugins.toml` and the resolved pins in
    /// `resolved.lock` (whose crate graph the next build fills in), and
    /// builds nothing. `sync` builds later.
    pub fn record(&self, transaction: &Transaction<'_>) -> Result<Outcome> {
        let home = transaction.home();
        let gathered = self.gather()?;
        let pins = self.resolve(&gathered)?;
        let old = self.locked.map(|l| l.plugins.clone()).unwrap_or_default();
        let on_disk = fs_err::read_to_string(home.plugins_toml()).ok();
        if pins == old && on_disk.as_deref() == Some(self.desired.to_string().as_str()) {
            return Ok(Outcome::Unchanged);
        }
        let lock = Lockfile {
            host_version: Version::parse(env!("CARGO_PKG_VERSION"))?,
            api_version: Version::parse(scope_plugin_api::API_VERSION)?,
            plugins: pins.clone(),
            crates: Vec::new(),
        };
        crate::fsx::write_atomic(&home.resolved_lock(), lock.to_toml().as_bytes())?;
        crate::fsx::write_atomic(&home.plugins_toml(), self.desired.to_string().as_bytes())?;
        Ok(Outcome::Recorded(describe_changes(&old, &pins)))
    }

    /// Runs the change inside `transaction`.
    pub fn run(&self, transaction: &Transaction<'_>, printer: &Printer) -> Result<Outcome> {
        let home = transaction.home();
        let gathered = self.gather()?;
        let pins = self.resolve(&gathered)?;
        failpoint("after-resolve");
        let old_pins = self.locked.map(|l| l.plugins.clone()).unwrap_or_default();
        let changes = describe_changes(&old_pins, &pins);
        if self.locked_only && pins != old_pins {
            return Err(Hinted::new(
                format!(
                    "resolved.lock needs to change, and --locked forbids it:\n  {}",
                    changes.join("\n  ")
                ),
                "run without --locked to update resolved.lock",
            )
            .into());
        }
        let current_toml = home
            .current()
            .and_then(|n| fs_err::read_to_string(home.generation_dir(n).join("plugins.toml")).ok());
        let unchanged =
            pins == old_pins && current_toml.as_deref() == Some(self.desired.to_string().as_str());
        if unchanged && !self.rebuild {
            return Ok(Outcome::Unchanged);
        }
        let chosen = self.materialize(&gathered, &pins)?;
        refuse_conflicts(&chosen)?;
        let names: Vec<String> = chosen
            .iter()
            .map(|p| format!("{} v{}", p.name, p.version))
            .collect();
        printer.status(
            "Building",
            format!(
                "host with {}",
                if names.is_empty() {
                    "no plugins".into()
                } else {
                    names.join(", ")
                }
            ),
        );
        let builder =
            HostBuilder::for_build_dir(&home.build_dir(), Profile::from_env()?, self.offline);
        let built = builder.build(&chosen, printer)?;
        failpoint("after-build");
        probe(&built.binary)?;
        failpoint("after-probe");
        let cargo_lock = fs_err::read_to_string(&built.cargo_lock)?;
        let lock = Lockfile {
            host_version: Version::parse(env!("CARGO_PKG_VERSION"))?,
            api_version: Version::parse(scope_plugin_api::API_VERSION)?,
            plugins: pins,
            crates: CratePin::from_cargo_lock(&built.cargo_lock, &cargo_lock)?,
        };
        let changes = if changes.is_empty() {
            vec!["rebuilt".to_owned()]
        } else {
            changes
        };
        let generation = NewGeneration {
            host: &built.binary,
            plugins_toml: &self.desired.to_string(),
            resolved_lock: &lock.to_toml(),
            command: self.command.clone(),
            changes: changes.clone(),
        };
        Ok(Outcome::Committed(
            transaction.commit(&generation)?,
            changes,
        ))
    }

    fn gather(&self) -> Result<Gathered> {
        let mut located = Vec::new();
        let mut wanted: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for (name, spec) in self.desired.plugins() {
            if let PluginSpec::Registry { registry, .. } = spec {
                wanted
                    .entry(registry.clone())
                    .or_default()
                    .push(name.clone());
                continue;
            }
            let found = self
                .sources
                .locate(spec)
                .with_context(|| format!("cannot use plugin `{name}`"))?;
            if found.krate.name.replace('_', "-") != *name {
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

    /// Chooses versions: each local or git plugin offers exactly its one
    /// version, a registry plugin every version its index lists.
    fn resolve(&self, gathered: &Gathered) -> Result<Vec<Pin>> {
        let resolution = self.solve(gathered)?;
        // A locked plugin that had to move although nobody asked: say why.
        for moved in &resolution.moved {
            self.sources.registries.printer().status(
                "Moving",
                format!(
                    "{} {} -> {} (locked, but {})",
                    moved.plugin, moved.from, moved.to, moved.by
                ),
            );
        }
        Ok(self.pins(gathered, &resolution))
    }

    /// The resolver's index and request for everything gathered.
    fn problem(&self, gathered: &Gathered) -> Result<(MemoryIndex, Request)> {
        let located = &gathered.located;
        let names: Vec<String> = located
            .iter()
            .map(|l| l.krate.name.clone())
            .chain(gathered.registry.keys().cloned())
            .collect();
        let mut index = MemoryIndex::new();
        let krates: BTreeMap<String, IndexKrate> = gathered
            .registry
            .iter()
            .map(|(name, (_, krate))| (name.clone(), krate.clone()))
            .collect();
        add_to_index(&mut index, &krates, |name| names.iter().any(|n| n == name));
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
                .filter(|(dep, _)| names.contains(dep))
                .map(|(dep, req)| Ok((dep.clone(), VersionReq::parse(req)?)))
                .collect::<Result<Vec<_>>>()?;
            let manifest = Manifest {
                dependencies,
                api,
                conflicts: l.krate.conflicts.clone(),
            };
            index.add(&l.krate.name, version.clone(), false, manifest);
            request = request.require(&l.krate.name, VersionReq::parse(&format!("={version}"))?);
        }
        if let Some(lock) = self.locked {
            for pin in &lock.plugins {
                request = request.lock(&pin.name, pin.version.clone());
            }
        }
        request.unlock = self.sources.unlock.clone();
        Ok((index, request))
    }

    /// Runs the resolver over everything gathered.
    fn solve(&self, gathered: &Gathered) -> Result<scope_resolver::Resolution> {
        let (index, request) = self.problem(gathered)?;
        let resolution = match scope_resolver::resolve(&index, &request) {
            Ok(resolution) => resolution,
            Err(ResolveError::NoSolution(report)) => {
                return Err(Hinted::new(
                    format!("no set of plugin versions works:\n{}", report.text),
                    report.hint,
                )
                .into())
            }
            Err(other) => return Err(other.into()),
        };
        Ok(resolution)
    }

    /// The lock's pins for a resolution.
    fn pins(&self, gathered: &Gathered, resolution: &scope_resolver::Resolution) -> Vec<Pin> {
        let located = &gathered.located;
        let mut pins = Vec::new();
        for (name, pick) in &resolution.plugins {
            let chosen = |dep: &str| resolution.plugins.contains_key(&dep.replace('_', "-"));
            if let Some(l) = located
                .iter()
                .find(|l| l.krate.name.replace('_', "-") == *name)
            {
                let dependencies = l
                    .krate
                    .dependencies
                    .iter()
                    .map(|(dep, _)| dep.replace('_', "-"))
                    .filter(|dep| chosen(dep))
                    .collect();
                pins.push(Pin {
                    name: l.krate.name.clone(),
                    version: pick.version.clone(),
                    source: l.source.clone(),
                    dependencies,
                });
                continue;
            }
            let (registry, krate) = &gathered.registry[name];
            let version = krate
                .versions
                .iter()
                .find(|v| Version::parse(&v.version).ok().as_ref() == Some(&pick.version))
                .expect("the resolver chose a version the index lists");
            let dependencies = version
                .deps
                .iter()
                .map(|d| d.crate_name().replace('_', "-"))
                .filter(|dep| chosen(dep))
                .collect();
            let checksum = version.checksum.to_string();
            pins.push(Pin {
                name: krate.name().to_owned(),
                version: pick.version.clone(),
                source: PinSource::Registry {
                    registry: registry.clone(),
                    checksum,
                },
                dependencies,
            });
        }
        let mut lock = Lockfile {
            host_version: Version::new(0, 0, 0),
            api_version: Version::new(0, 0, 0),
            plugins: pins,
            crates: vec![],
        };
        lock.normalize();
        lock.plugins
    }

    /// The resolver's view of this change, for `update --check`.
    pub fn problem_now(&self) -> Result<(MemoryIndex, Request)> {
        self.problem(&self.gather()?)
    }

    /// Why each plugin is in the set, and why at its version.
    pub fn explain(&self) -> Result<scope_resolver::Resolution> {
        self.solve(&self.gather()?)
    }
}

impl Change<'_> {
    /// The crate of every pin: local and git plugins where they were found,
    /// registry plugins downloaded, verified and unpacked.
    fn materialize(&self, gathered: &Gathered, pins: &[Pin]) -> Result<Vec<PluginCrate>> {
        let mut crates = Vec::new();
        for pin in pins {
            let krate = match &pin.source {
                PinSource::Registry { registry, checksum } => {
                    let dir = self.sources.registries.fetch_source(
                        registry,
                        &pin.name,
                        &pin.version.to_string(),
                        checksum,
                    )?;
                    PluginCrate::read(&dir)?
                }
                _ => gathered
                    .located
                    .iter()
                    .find(|l| l.krate.name == pin.name)
                    .map(|l| l.krate.clone())
                    .expect("a local or git pin was located"),
            };
            crates.push(krate);
        }
        Ok(crates)
    }
}

/// Registry plugins declare `conflicts` inside their crate, which the index
/// does not carry: checked here, once their sources are unpacked.
fn refuse_conflicts(chosen: &[PluginCrate]) -> Result<()> {
    let normal = |name: &str| name.replace('_', "-");
    for krate in chosen {
        for other in &krate.conflicts {
            if chosen.iter().any(|k| normal(&k.name) == normal(other)) {
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

/// Runs `scope-host self-check --json` on a new host; refuses a host in
/// which any plugin failed to register or a pipeline id is taken twice.
pub fn probe(binary: &std::path::Path) -> Result<()> {
    let out = std::process::Command::new(binary)
        .args(["self-check", "--json"])
        .output()
        .with_context(|| format!("cannot run the new host `{}`", binary.display()))?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the new host's self-check printed no JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if out.status.success() && report["ok"] == true {
        return Ok(());
    }
    let mut problems = Vec::new();
    for plugin in report["plugins"].as_array().into_iter().flatten() {
        for error in plugin["errors"].as_array().into_iter().flatten() {
            problems.push(format!(
                "plugin `{}`: {}",
                plugin["name"].as_str().unwrap_or("?"),
                error.as_str().unwrap_or("?")
            ));
        }
    }
    Err(Hinted::new(
        format!(
            "the new host failed its self-check; nothing was changed:\n  {}",
            problems.join("\n  ")
        ),
        "fix the plugin, or uninstall the one that fails",
    )
    .into())
}

/// `+ name vX`, `- name vX`, `~ name vX -> vY`, in name order.
pub fn describe_changes(old: &[Pin], new: &[Pin]) -> Vec<String> {
    let old: BTreeMap<&str, &Pin> = old.iter().map(|p| (p.name.as_str(), p)).collect();
    let new: BTreeMap<&str, &Pin> = new.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut names: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| match (old.get(name), new.get(name)) {
            (None, Some(n)) => Some(format!("+ {name} v{}", n.version)),
            (Some(o), None) => Some(format!("- {name} v{}", o.version)),
            (Some(o), Some(n)) if o.version != n.version => {
                Some(format!("~ {name} v{} -> v{}", o.version, n.version))
            }
            (Some(o), Some(n)) if o.source != n.source => Some(match (&o.source, &n.source) {
                (PinSource::Git { commit: a, .. }, PinSource::Git { commit: b, .. }) => {
                    format!("~ {name} v{} ({} -> {})", n.version, short(a), short(b))
                }
                _ => format!("~ {name} v{} (new source)", n.version),
            }),
            _ => None,
        })
        .collect()
}

fn short(commit: &str) -> &str {
    commit.get(..8).unwrap_or(commit)
}

/// The home's `plugins.toml`, or an empty one.
pub fn read_plugins_toml(path: &std::path::Path) -> Result<PluginsToml> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(PluginsToml::parse(path, &text)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(PluginsToml::empty(path)),
        Err(err) => Err(err.into()),
    }
}

/// The home's `resolved.lock`, if there is one.
pub fn read_lock(path: &std::path::Path) -> Result<Option<Lockfile>> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(Some(Lockfile::parse(path, &text)?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// A directory spec made absolute against the working directory.
pub fn absolute(spec: PluginSpec) -> Result<PluginSpec> {
    Ok(match spec {
        PluginSpec::Path { path } => {
            let absolute = if path.is_absolute() {
                path
            } else {
                std::env::current_dir()?.join(path)
            };
            let canonical: PathBuf = fs_err::canonicalize(&absolute).map_err(|_| {
                Hinted::new(
                    format!("`{}` does not exist", absolute.display()),
                    "check the path of the plugin's directory",
                )
            })?;
            PluginSpec::Path { path: canonical }
        }
        other => other,
    })
}
