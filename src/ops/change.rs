//! Changing which plugins are installed: `install`, `uninstall`, `update`,
//! `sync`, `build`, `reload` and `demo` are all one operation, a
//! [`ChangeRequest`] applied to a home. Under the home's lock it reads
//! `plugins.toml` and `resolved.lock`, applies the request's edit, resolves,
//! and — unless nothing changes — fetches, builds, probes and commits a new
//! generation through the home's [`Transaction`]. It returns an
//! [`Outcome`]; it prints nothing but status lines through the reporter.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use scope_lockfile::{ArtifactPin, CratePin, GitReference, Lockfile, Pin, PluginSpec, PluginsToml};
use scope_name::PluginName;
use scope_registry_client::git::GitUrl;
use scope_resolver::Unlock;
use semver::Version;

use super::plan::{describe_changes, Gathered, Planner};
use super::probe::probe;
use super::sources::Sources;
use crate::capability::Grant;
use crate::change::Change;
use crate::error::Hinted;
use crate::failpoint;
use crate::fsx;
use crate::home::{Home, NewGeneration, Transaction, HOST_BINARY};
use crate::host_build::{Graph, HostBuilder};
use crate::policy::check::refuse;
use crate::policy::{Finding, Policy};
use crate::reporter::Reporter;
use crate::settings::{HomeLocation, Settings};

/// What to do to `plugins.toml` before resolving.
pub enum Edit {
    /// Nothing: reach the file as it is (`sync`, `build`, `update`).
    Nothing,
    /// Add or replace plugins (`install`).
    Install(Vec<Wanted>),
    /// Remove plugins (`uninstall`); refused while another plugin needs one.
    Uninstall(Vec<PluginName>),
    /// Start from this file when the home has none yet (`demo`), then add.
    Seed {
        /// The file's header, kept above the plugins.
        header: &'static str,
        /// The plugins to add.
        plugins: Vec<(PluginName, PluginSpec)>,
    },
}

/// One plugin to install.
pub struct Wanted {
    /// Its name; a directory or git repository without one is named after
    /// its crate, found under the home's lock.
    pub name: Option<PluginName>,
    /// Where it comes from.
    pub spec: PluginSpec,
    /// A git `URL@REV` whose REV is recorded as the branch, tag or commit
    /// it names, once the repository is fetched.
    pub rev_to_classify: bool,
}

impl Wanted {
    /// A plugin with a name and a spec that says everything.
    pub fn named(name: PluginName, spec: PluginSpec) -> Wanted {
        Wanted {
            name: Some(name),
            spec,
            rev_to_classify: false,
        }
    }
}

/// How far to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Build, probe and switch.
    Apply,
    /// Resolve and say what would change; take no lock, touch nothing.
    DryRun,
    /// Record `plugins.toml` and `resolved.lock`; build later (`--no-build`).
    Record,
}

/// One change.
pub struct ChangeRequest {
    /// The edit of `plugins.toml`.
    pub edit: Edit,
    /// Which locked plugins may move.
    pub unlock: Unlock,
    /// Build a new generation even when nothing changed (`build`, `reload`)
    /// — unless the host comes out byte-identical to the active one.
    pub rebuild: bool,
    /// With `rebuild`: commit even a byte-identical host (`--force`).
    pub force: bool,
    /// How far to go.
    pub mode: Mode,
    /// Capabilities this command grants (`--allow`).
    pub grant: Grant,
}

impl ChangeRequest {
    /// A change that reaches `plugins.toml` as it is.
    pub fn sync() -> ChangeRequest {
        ChangeRequest::edit(Edit::Nothing)
    }

    /// A change that applies `edit`.
    pub fn edit(edit: Edit) -> ChangeRequest {
        ChangeRequest {
            edit,
            unlock: Unlock::Nothing,
            rebuild: false,
            force: false,
            mode: Mode::Apply,
            grant: Grant::default(),
        }
    }
}

/// How a change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do.
    Unchanged {
        /// The active generation, if any.
        generation: Option<u64>,
    },
    /// `--dry-run`: what would change.
    WouldChange(Vec<Change>),
    /// A new generation is active. `changes` is empty for a rebuild of the same pins.
    Committed {
        /// Its number.
        generation: u64,
        /// What changed.
        changes: Vec<Change>,
    },
    /// `--no-build`: `plugins.toml` and `resolved.lock` were updated; no host was built.
    Recorded(Vec<Change>),
    /// `build`/`reload` rebuilt a host byte-identical to the active
    /// generation's: no new generation.
    Identical {
        /// The active generation.
        generation: u64,
    },
}

/// The state a change is measured against: the active generation's
/// `plugins.toml` and pins. "Unchanged" means a change would reproduce it.
struct Active {
    generation: Option<u64>,
    plugins_toml: Option<String>,
    pins: Vec<Pin>,
    crates: Vec<CratePin>,
    /// Editable plugins' fingerprints as built (none: not recorded).
    fingerprints: Option<BTreeMap<String, String>>,
}

impl Active {
    fn of(home: &Home) -> Result<Active> {
        let generation = home.current();
        let lock = match generation {
            Some(n) => home.generation_lock(n)?,
            None => None,
        };
        let (pins, crates) = lock.map(|l| (l.plugins, l.crates)).unwrap_or_default();
        Ok(Active {
            generation,
            plugins_toml: generation.and_then(|n| home.generation_plugins_toml(n)),
            pins,
            crates,
            fingerprints: generation
                .and_then(|n| home.generation(n).ok())
                .and_then(|info| info.fingerprints),
        })
    }

    fn has(&self, desired: &PluginsToml, pins: &[Pin]) -> bool {
        self.plugins_toml.as_deref() == Some(desired.to_string().as_str()) && self.pins == pins
    }

    /// Editable plugins whose sources changed since this generation was built.
    fn edited(&self, now: &BTreeMap<String, String>) -> Vec<String> {
        let Some(built) = &self.fingerprints else {
            return Vec::new();
        };
        now.iter()
            .filter(|(name, fingerprint)| built.get(*name).is_some_and(|b| b != *fingerprint))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Applies `request` to `home`.
pub fn change(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
    request: ChangeRequest,
) -> Result<Outcome> {
    // A dry run reads and resolves; it takes no lock but the cache's
    // (shared: `gc` waits) and changes nothing. Everything else reads the
    // files only once it holds the home's lock, so two commands at once
    // never build on a stale plugins.toml.
    let (transaction, _reading) = match request.mode {
        Mode::DryRun => (
            None,
            home.reading_cache(settings.lock_timeout, reporter.as_ref())?,
        ),
        Mode::Apply | Mode::Record => (
            Some(Transaction::begin(
                home,
                settings.lock_timeout,
                reporter.as_ref(),
            )?),
            None,
        ),
    };
    let locked = home.lock_file()?;
    if settings.locked && locked.is_none() {
        return Err(Hinted::new(
            format!(
                "{} is missing, and --locked needs it",
                home.resolved_lock_path().display()
            ),
            "run without --locked (or --frozen) to create it",
        )
        .into());
    }
    let mut desired = home.plugins_toml()?;
    // A dry run on a home that does not exist creates none, not even its
    // cache: what it fetches goes to a scratch directory.
    let scratch = (request.mode == Mode::DryRun && !home.root().exists())
        .then(tempfile::tempdir)
        .transpose()?;
    let cache_home = match &scratch {
        Some(dir) => Home::at(&HomeLocation {
            root: dir.path().to_owned(),
            from: "a scratch directory",
        }),
        None => home.clone(),
    };
    // One view of the sources for the whole change: naming what is
    // installed, then gathering and resolving.
    let mut sources = Sources::of(
        &cache_home,
        locked.as_ref(),
        desired.registries().clone(),
        settings,
        reporter.clone(),
    );
    sources.plugins_dir = home.root().to_owned();
    // The policy sees where plugins come from before anything is fetched
    // (naming a new plugin fetches it), and the resolved versions before
    // anything is downloaded.
    let policy = Policy::find(home.root(), settings.policy.as_deref())?;
    let dry_run = request.mode == Mode::DryRun;
    if let Some(policy) = &policy {
        let mut specs: Vec<(String, &PluginSpec)> = desired
            .plugins()
            .iter()
            .map(|(n, s)| (format!("plugin `{n}`"), s))
            .collect();
        if let Edit::Install(wanted) = &request.edit {
            specs.extend(wanted.iter().map(|w| {
                let name = w
                    .name
                    .as_ref()
                    .map_or("a new plugin".into(), |n| format!("plugin `{n}`"));
                (name, &w.spec)
            }));
        }
        findings(policy.check_specs(specs), dry_run, reporter.as_ref())?;
    }
    let edit = name_plugins(request.edit, &sources)?;
    apply_edit(&mut desired, locked.as_ref(), edit)?;
    let fresh_graph = request.unlock == Unlock::All;
    sources.unlock = request.unlock;
    let planner = Planner {
        sources: &sources,
        desired: &desired,
    };
    let gathered = planner.gather()?;
    let pins = planner.resolve(&gathered, reporter.as_ref())?;
    failpoint::hit("after-resolve");
    if let Some(policy) = &policy {
        let now = std::time::SystemTime::now();
        let found = policy.check_pins(&pins, |pin| gathered.published(pin), now);
        findings(found, dry_run, reporter.as_ref())?;
    }
    let locked_pins = locked
        .as_ref()
        .map(|l| l.plugins.clone())
        .unwrap_or_default();
    if settings.locked && pins != locked_pins {
        return Err(lock_would_change(&locked_pins, &pins));
    }
    let active = Active::of(home)?;
    let fingerprints = gathered.fingerprints()?;
    let edited = active.edited(&fingerprints);
    let mut changes = describe_changes(&active.pins, &pins);
    // An editable plugin edited in place: same pin, new sources.
    for pin in pins
        .iter()
        .filter(|p| edited.contains(&p.name.normalized().to_owned()))
    {
        let name = pin.name.to_string();
        if !changes.iter().any(|c| c.plugin() == Some(&name)) {
            changes.push(Change::Edited {
                name,
                version: pin.version.clone(),
            });
        }
    }
    let unchanged = active.has(&desired, &pins) && edited.is_empty();
    let Some(transaction) = transaction else {
        return Ok(if unchanged {
            Outcome::Unchanged {
                generation: active.generation,
            }
        } else {
            Outcome::WouldChange(changes)
        });
    };
    if request.mode == Mode::Record {
        // Measured against the files, which a recorded change is ahead of.
        if pins == locked_pins && home.plugins_toml()?.to_string() == desired.to_string() {
            return Ok(Outcome::Unchanged {
                generation: active.generation,
            });
        }
        let recorded = lock_file(pins, Vec::new(), Vec::new())?;
        transaction.record(&desired.to_string(), &recorded.to_toml())?;
        return Ok(Outcome::Recorded(describe_changes(
            &locked_pins,
            &recorded.plugins,
        )));
    }
    // `update` with no names resolves the third-party crates anew, so it
    // builds to find out whether any moved.
    if unchanged && !request.rebuild && !fresh_graph {
        return Ok(Outcome::Unchanged {
            generation: active.generation,
        });
    }
    // cargo starts from the crate graph resolved.lock records.
    let recorded = locked
        .as_ref()
        .map(|l| l.crates.clone())
        .unwrap_or_default();
    let graph = match (fresh_graph, settings.locked) {
        // A lock recorded by `--no-build` has no graph yet: this build records it.
        (_, true) if !recorded.is_empty() => Graph::Locked(&recorded),
        (true, _) => Graph::Fresh,
        _ => Graph::Keep(&recorded),
    };
    build_and_commit(
        &transaction,
        settings,
        reporter.as_ref(),
        (&planner, &gathered),
        policy.as_ref(),
        Build {
            pins,
            grant: request.grant,
            changes,
            graph,
            previous: &active,
            rebuild: request.rebuild || !edited.is_empty(),
            // Only a rebuild of unedited sources may end as "identical":
            // an edit commits its new fingerprints even when the host
            // bytes stay the same.
            identical_is_unchanged: request.rebuild && !request.force && edited.is_empty(),
            fingerprints,
        },
    )
}

/// What a build starts from.
struct Build<'a> {
    /// The plugins to build in.
    pins: Vec<Pin>,
    /// Capabilities this command grants.
    grant: Grant,
    /// How they differ from the active generation's.
    changes: Vec<Change>,
    /// Where cargo starts.
    graph: Graph<'a>,
    /// The active generation, to say which crates moved.
    previous: &'a Active,
    /// Commit a new generation even when nothing moved.
    rebuild: bool,
    /// ...unless the host is byte-identical to the active one.
    identical_is_unchanged: bool,
    /// The editable plugins' fingerprints, to record.
    fingerprints: BTreeMap<String, String>,
}

/// Fetches the pins' crates, builds the host, probes it and commits the
/// new generation.
fn build_and_commit(
    transaction: &Transaction<'_>,
    settings: &Settings,
    reporter: &dyn Reporter,
    (planner, gathered): (&Planner<'_>, &Gathered),
    policy: Option<&Policy>,
    build: Build<'_>,
) -> Result<Outcome> {
    let Build {
        pins,
        grant,
        mut changes,
        graph,
        previous,
        rebuild,
        identical_is_unchanged,
        fingerprints,
    } = build;
    let chosen = planner.materialize(gathered, &pins)?;
    // Every capability a plugin asks for is granted, in plugins.toml or by
    // this command, before anything is built; new grants are recorded.
    let desired = super::grants::grant_capabilities(planner.desired, &chosen, &grant, reporter)?;
    let names: Vec<String> = chosen
        .iter()
        .map(|p| format!("{} v{}", p.name, p.version))
        .collect();
    let names = if names.is_empty() {
        "no plugins".to_owned()
    } else {
        names.join(", ")
    };
    let mut build_settings = settings.build.clone();
    if let (false, Some(policy)) = (build_settings.sandbox_given, policy) {
        build_settings.sandbox = policy.sandbox.value;
    }
    let builder = HostBuilder::new(&transaction.home().build_dir(), &build_settings);
    if let Some(policy) = policy.filter(|p| p.licenses.is_some()) {
        // Every package's licence, from cargo's resolved graph, before
        // anything is compiled.
        let packages = builder.packages(&chosen, &graph)?;
        let is_plugin = |name: &str| pins.iter().any(|p| p.name.as_str() == name);
        refuse(&policy.check_licenses(&packages, is_plugin))?;
    }
    // Every declared data file, verified in the store before the build: a
    // file that cannot be had changes nothing.
    let (artifacts, _store) =
        super::fetch::artifacts(transaction.home(), settings, &chosen, reporter)?;
    reporter.status("Building", &format!("host with {names}"));
    let built = builder.build(&chosen, &graph, reporter)?;
    failpoint::hit("after-build");
    probe(&built.binary)?;
    failpoint::hit("after-probe");
    let crates = built.crates()?;
    // Third-party crates that moved are part of what changed.
    let moved = CratePin::changes(&previous.crates, &crates);
    if moved.is_empty() && previous.has(planner.desired, &pins) {
        if !rebuild {
            return Ok(Outcome::Unchanged {
                generation: previous.generation,
            });
        }
        if let (true, Some(n)) = (identical_is_unchanged, previous.generation) {
            let active = transaction.home().generation_dir(n).join(HOST_BINARY);
            if fsx::same_contents(&active, &built.binary)? {
                return Ok(Outcome::Identical { generation: n });
            }
        }
    }
    // Crates that moved, not those that came or went with a plugin.
    let crates_moved = moved
        .into_iter()
        .filter(|c| c.from.is_some() && c.to.is_some());
    changes.extend(crates_moved.map(Change::from));
    let lock = lock_file(pins, crates, artifacts)?;
    let generation = NewGeneration {
        host: &built.binary,
        plugins_toml: &desired.to_string(),
        resolved_lock: &lock.to_toml(),
        command: settings.command_line.clone(),
        changes: changes.clone(),
        fingerprints,
    };
    Ok(Outcome::Committed {
        generation: transaction.commit(&generation)?,
        changes,
    })
}

/// Refuses on findings; a dry run shows them as warnings instead.
fn findings(found: Vec<Finding>, dry_run: bool, reporter: &dyn Reporter) -> Result<()> {
    if dry_run {
        for finding in &found {
            reporter.warn(&format!("the policy would refuse this: {finding}"));
        }
        return Ok(());
    }
    refuse(&found)
}

/// `--locked`, refusing a change of pins.
pub fn lock_would_change(locked: &[Pin], pins: &[Pin]) -> anyhow::Error {
    Hinted::new(
        format!(
            "resolved.lock needs to change, and --locked forbids it:\n  {}",
            crate::change::lines(&describe_changes(locked, pins)).join("\n  ")
        ),
        "run without --locked to update resolved.lock",
    )
    .into()
}

/// A `resolved.lock` for this scopectl, these pins, this crate graph and
/// these artifacts.
fn lock_file(
    plugins: Vec<Pin>,
    crates: Vec<CratePin>,
    artifacts: Vec<ArtifactPin>,
) -> Result<Lockfile> {
    Ok(Lockfile {
        host_version: Version::parse(env!("CARGO_PKG_VERSION"))?,
        api_version: Version::parse(scope_plugin_api::API_VERSION)?,
        plugins,
        crates,
        artifacts,
    })
}

/// Names every plugin of an install that the spec did not name, by
/// reading its crate where the spec points (relative paths against `home`,
/// fetching into `cache_home`).
fn name_plugins(edit: Edit, sources: &Sources<'_>) -> Result<Edit> {
    let Edit::Install(plugins) = edit else {
        return Ok(edit);
    };
    let named = plugins
        .into_iter()
        .map(|wanted| {
            let spec = match (&wanted.spec, wanted.rev_to_classify) {
                (
                    PluginSpec::Git {
                        url,
                        reference: GitReference::Rev(rev),
                    },
                    true,
                ) => {
                    // Fetch first, then ask the cache what REV is.
                    sources.locate(&wanted.spec)?;
                    PluginSpec::Git {
                        url: url.clone(),
                        reference: sources.git.classify(&GitUrl::parse(url)?, rev),
                    }
                }
                _ => wanted.spec,
            };
            let name = match wanted.name {
                Some(name) => name,
                None => sources.locate(&spec)?.krate.plugin_name()?,
            };
            Ok(Wanted::named(name, spec))
        })
        .collect::<Result<_>>()?;
    Ok(Edit::Install(named))
}

fn apply_edit(desired: &mut PluginsToml, locked: Option<&Lockfile>, edit: Edit) -> Result<()> {
    match edit {
        Edit::Nothing => {}
        Edit::Install(plugins) => {
            for wanted in plugins {
                let name = wanted.name.context("plugins are named before the edit")?;
                desired.set(&name, wanted.spec);
            }
        }
        Edit::Seed { header, plugins } => {
            if desired.plugins().is_empty() {
                *desired = PluginsToml::parse(desired.path(), &format!("{header}[plugins]\n"))?;
            }
            let plugins = plugins
                .into_iter()
                .map(|(n, s)| Wanted::named(n, s))
                .collect();
            apply_edit(desired, locked, Edit::Install(plugins))?;
        }
        Edit::Uninstall(names) => {
            for name in &names {
                if !desired.plugins().contains_key(name) {
                    return Err(not_installed(name, desired.plugins().keys()));
                }
                let dependents: Vec<String> = locked
                    .iter()
                    .flat_map(|l| &l.plugins)
                    .filter(|p| !names.contains(&p.name) && p.dependencies.contains(name))
                    .map(|p| p.name.to_string())
                    .collect();
                if !dependents.is_empty() {
                    return Err(Hinted::new(
                        format!(
                            "cannot uninstall `{name}`: {} depends on it",
                            dependents.join(", ")
                        ),
                        format!(
                            "uninstall {} in the same command (`scopectl uninstall {name} {}`), or before it",
                            dependents.join(", "),
                            dependents.join(" ")
                        ),
                    )
                    .into());
                }
                desired.remove(name);
            }
        }
    }
    Ok(())
}

/// "`name` is not installed", with the names that are.
pub fn not_installed<'a>(
    name: &PluginName,
    installed: impl Iterator<Item = &'a PluginName>,
) -> anyhow::Error {
    let installed: Vec<String> = installed.map(ToString::to_string).collect();
    let list = if installed.is_empty() {
        "none".to_owned()
    } else {
        installed.join(", ")
    };
    Hinted::new(
        format!("`{name}` is not installed"),
        format!("installed plugins: {list}"),
    )
    .into()
}
