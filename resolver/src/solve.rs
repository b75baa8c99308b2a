//! Running the solver and turning its answer into a [`Resolution`]: the
//! chosen versions, who required each one and why that version.

use scope_name::PluginName;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pubgrub::PubGrubError;
use semver::Version;

use crate::constraint::{Constraint, Requirement, Requirer};
use crate::index::{Index, IndexError, Manifest};
use crate::provider::{Pkg, Provider};
use crate::ranges::req_to_ranges;
use crate::report::{self, Report};
use crate::request::Request;

/// Why this version was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// It was locked, and nothing required a change.
    Locked,
    /// It is the newest version that can be chosen.
    Newest,
    /// A newer version exists, and this constraint excludes it.
    Held {
        /// The newest version.
        newest: Version,
        /// What excludes it.
        by: Constraint,
    },
    /// It was locked at another version, which this constraint excludes.
    Moved {
        /// The locked version.
        from: Version,
        /// What excludes it.
        by: Constraint,
    },
}

/// One chosen plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// The chosen version.
    pub version: Version,
    /// Every requirement on it: the user's and other chosen plugins'.
    pub required_by: Vec<Requirement>,
    /// Why this version.
    pub choice: Choice,
}

/// A locked plugin that had to change version although it was not unlocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The plugin.
    pub plugin: PluginName,
    /// Its locked version.
    pub from: Version,
    /// Its new version.
    pub to: Version,
    /// What forced it.
    pub by: Constraint,
}

/// The outcome of a successful resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Every chosen plugin.
    pub plugins: BTreeMap<PluginName, Pick>,
    /// Locked plugins that were forced to another version.
    pub moved: Vec<Move>,
}

/// A resolution that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// No set of versions satisfies every constraint.
    #[error("{0}")]
    NoSolution(Report),
    /// The index could not answer.
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Chooses a version for every plugin the request needs.
pub fn resolve<I: Index + ?Sized>(
    index: &I,
    request: &Request,
) -> Result<Resolution, ResolveError> {
    match choose(index, request) {
        Ok((chosen, known)) => build(&Provider::new(index, request, known), chosen),
        Err(ResolveError::NoSolution(first)) => {
            Err(ResolveError::NoSolution(each_alone(index, request, first)?))
        }
        Err(other) => Err(other),
    }
}

/// pubgrub stops at the first contradiction. When several of the user's
/// requirements cannot be met even on their own, each is told, with its own
/// explanation and hint, so that one round of edits fixes them all.
fn each_alone<I: Index + ?Sized>(
    index: &I,
    request: &Request,
    first: Report,
) -> Result<Report, ResolveError> {
    if request.requirements.len() < 2 {
        return Ok(first);
    }
    let mut failing = Vec::new();
    for (name, req) in &request.requirements {
        let mut alone = request.clone();
        alone.requirements = [(name.clone(), req.clone())].into();
        match choose(index, &alone) {
            Err(ResolveError::NoSolution(report)) => failing.push(report),
            Err(other) => return Err(other),
            Ok(_) => {}
        }
    }
    if failing.len() < 2 {
        return Ok(first);
    }
    let numbered = |i: usize, text: &str| format!("{}. {}", i + 1, text.replace('\n', "\n   "));
    Ok(Report {
        text: failing
            .iter()
            .enumerate()
            .map(|(i, r)| numbered(i, &r.text))
            .collect::<Vec<_>>()
            .join("\n\n"),
        hint: failing
            .iter()
            .enumerate()
            .map(|(i, r)| format!("({}) {}", i + 1, r.hint))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// Chosen versions by normalised name.
type Chosen = BTreeMap<String, Version>;
/// Conflicts (declarer, other) a solve has learned of.
type KnownConflicts = BTreeSet<(Arc<str>, Arc<str>)>;

/// The solve alone: the chosen versions (by normalised name) and the
/// conflicts it learned, without explaining any choice. Explanations that
/// need to know whether some other set works call this, so explaining one
/// held plugin never explains all the others again.
fn choose<I: Index + ?Sized>(
    index: &I,
    request: &Request,
) -> Result<(Chosen, KnownConflicts), ResolveError> {
    let mut known = BTreeSet::new();
    loop {
        let provider = Provider::new(index, request, known.clone());
        let outcome = pubgrub::resolve(&provider, Pkg::Root, 0u32);
        match outcome {
            Ok(selected) => {
                // A conflict declared by a version seen in this solve binds the
                // other plugin only once it is known: solve again with it.
                let seen = provider.seen_conflicts.borrow().clone();
                if !seen.is_subset(&known) {
                    known.extend(seen);
                    continue;
                }
                let mut chosen = BTreeMap::new();
                for (pkg, rank) in selected {
                    if let Pkg::Plugin(name) = pkg {
                        chosen.insert(name.to_string(), provider.version(&name, rank)?);
                    }
                }
                return Ok((chosen, known));
            }
            Err(PubGrubError::NoSolution(tree)) => {
                return Err(ResolveError::NoSolution(report::explain(&tree, &provider)?));
            }
            Err(PubGrubError::ErrorRetrievingDependencies { source, .. }) => {
                return Err(source.into())
            }
            Err(PubGrubError::ErrorChoosingVersion { source, .. }) => return Err(source.into()),
            Err(PubGrubError::ErrorInShouldCancel(source)) => return Err(source.into()),
        }
    }
}

fn build<I: Index + ?Sized>(
    provider: &Provider<'_, I>,
    chosen: BTreeMap<String, Version>,
) -> Result<Resolution, ResolveError> {
    let request = provider.request;
    let mut manifests = BTreeMap::new();
    for (name, version) in &chosen {
        manifests.insert(
            name.clone(),
            provider.manifest(&Arc::from(name.as_str()), version)?,
        );
    }
    let mut plugins = BTreeMap::new();
    let mut moved = Vec::new();
    let world = World {
        provider,
        chosen: &chosen,
        manifests: &manifests,
    };
    // Who requires what, gathered in one pass over the chosen manifests.
    let mut dependents: BTreeMap<String, Vec<Requirement>> = BTreeMap::new();
    for (other, manifest) in &manifests {
        for (dep, req) in &manifest.dependencies {
            let dep = crate::normalize(dep);
            if dep != *other {
                let by = Requirer::Plugin {
                    name: other.clone(),
                    version: chosen[other].clone(),
                };
                dependents.entry(dep).or_default().push(Requirement {
                    by,
                    req: req.clone(),
                });
            }
        }
    }
    for (name, version) in &chosen {
        let mut required_by = Vec::new();
        if let Some(req) = request.requirements.get(name.as_str()) {
            required_by.push(Requirement {
                by: Requirer::User,
                req: req.clone(),
            });
        }
        required_by.extend(dependents.remove(name).unwrap_or_default());
        let locked = request.locked.get(name.as_str());
        let newest = provider
            .candidates(&Arc::from(name.as_str()))?
            .first()
            .map(|c| c.version.clone());
        let choice = match locked {
            Some(from) if from != version && !request.unlocks(name) => {
                let by = world.excluded_by(name, from, &required_by)?;
                moved.push(Move {
                    plugin: crate::plugin_name(name)?,
                    from: from.clone(),
                    to: version.clone(),
                    by: by.clone(),
                });
                Choice::Moved {
                    from: from.clone(),
                    by,
                }
            }
            Some(from)
                if from == version
                    && newest.as_ref() != Some(version)
                    && !request.unlocks(name) =>
            {
                Choice::Locked
            }
            _ => match newest {
                Some(newest) if &newest != version => {
                    let by = world.excluded_by(name, &newest, &required_by)?;
                    Choice::Held { newest, by }
                }
                _ => Choice::Newest,
            },
        };
        plugins.insert(
            crate::plugin_name(name)?,
            Pick {
                version: version.clone(),
                required_by,
                choice,
            },
        );
    }
    Ok(Resolution { plugins, moved })
}

/// The chosen set, for explaining why some other version does not fit in it.
pub(crate) struct World<'a, 'p, I: Index + ?Sized> {
    pub provider: &'a Provider<'p, I>,
    pub chosen: &'a BTreeMap<String, Version>,
    pub manifests: &'a BTreeMap<String, std::rc::Rc<Manifest>>,
}

impl<I: Index + ?Sized> World<'_, '_, I> {
    /// The first constraint that keeps `version` of `plugin` out of this set.
    pub fn excluded_by(
        &self,
        plugin: &str,
        version: &Version,
        required_by: &[Requirement],
    ) -> Result<Constraint, ResolveError> {
        let name: Arc<str> = Arc::from(plugin);
        let (p, v) = (plugin.to_owned(), version.clone());
        let offered = self.provider.index.versions(plugin)?;
        match offered.iter().find(|c| &c.version == version) {
            None => {
                return Ok(Constraint::Missing {
                    plugin: p,
                    version: v,
                })
            }
            Some(c) if c.yanked && self.provider.request.locked.get(plugin) != Some(version) => {
                return Ok(Constraint::Yanked {
                    plugin: p,
                    version: v,
                });
            }
            Some(_) => {}
        }
        for requirement in required_by {
            if !req_to_ranges(&requirement.req).contains(version) {
                return Ok(Constraint::Requirement {
                    plugin: p,
                    version: v,
                    requirement: requirement.clone(),
                });
            }
        }
        let manifest = self.provider.manifest(&name, version)?;
        let host = &self.provider.request.api_version;
        if !req_to_ranges(&manifest.api).contains(host) {
            return Ok(Constraint::Api {
                plugin: p,
                version: v,
                req: manifest.api.clone(),
                host: host.clone(),
            });
        }
        for other in &manifest.conflicts {
            let other = crate::normalize(other);
            if self.chosen.contains_key(&other) {
                return Ok(Constraint::Conflict {
                    plugin: p.clone(),
                    version: v,
                    with: other,
                    declared_by: p,
                });
            }
        }
        for (other, m) in self.manifests {
            if other != plugin && m.conflicts.iter().any(|c| crate::normalize(c) == plugin) {
                return Ok(Constraint::Conflict {
                    plugin: p,
                    version: v,
                    with: other.clone(),
                    declared_by: other.clone(),
                });
            }
        }
        // Nothing in this set excludes it on its own: ask the solver.
        let mut pinned = self.provider.request.clone();
        let tried = crate::plugin_name(&p)?;
        pinned.requirements.insert(
            tried.clone(),
            semver::VersionReq::parse(&format!("={version}")).expect("a version is a requirement"),
        );
        // The report says it is a trial, not what plugins.toml asks for.
        pinned.tried = Some(tried);
        match choose(self.provider.index, &pinned) {
            Err(ResolveError::NoSolution(report)) => Ok(Constraint::Unsolvable {
                report: report.text,
            }),
            Err(other) => Err(other),
            // It fits, but only if plugins that stay where they are moved too.
            Ok(_) => {
                for (dep, req) in &manifest.dependencies {
                    let dep = crate::normalize(dep);
                    if let Some(chosen) = self.chosen.get(&dep) {
                        if !req_to_ranges(req).contains(chosen) {
                            return Ok(Constraint::Needs {
                                plugin: p,
                                version: v,
                                dependency: dep,
                                req: req.clone(),
                                chosen: chosen.clone(),
                            });
                        }
                    }
                }
                Ok(Constraint::Unsolvable {
                    report: format!(
                        "choosing {p} {v} would move other plugins that stay where they are"
                    ),
                })
            }
        }
    }
}
