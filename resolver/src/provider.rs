//! The [`pubgrub::DependencyProvider`] over an [`Index`].
//!
//! Packages are the user's request (the root), plugins, the host's
//! `scope-plugin-api` (one version: the host's) and one proxy package per
//! declared conflict. A conflict "A declares it cannot live with B" becomes
//! a proxy with two versions: the versions of A that declare it need the
//! proxy at `0.0.0`, every version of B needs it at `1.0.0`, so A and B can
//! never both be chosen while either can be chosen alone.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use pubgrub::{Dependencies, DependencyProvider, PackageResolutionStatistics, Ranges};
use semver::{Version, VersionReq};

use crate::index::{Candidate, Index, IndexError, Manifest};
use crate::ranges::req_to_ranges;
use crate::request::Request;

/// A package as the solver sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pkg {
    /// What the user asked for (`plugins.toml`).
    Root,
    /// A plugin, by normalised name.
    Plugin(Arc<str>),
    /// `scope-plugin-api`, provided by the host in exactly one version.
    Api,
    /// `declarer` declares it must never be installed with `other`.
    Conflict {
        /// The plugin whose metadata names the conflict.
        declarer: Arc<str>,
        /// The plugin it names.
        other: Arc<str>,
    },
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("plugins.toml"),
            Pkg::Plugin(name) => f.write_str(name),
            Pkg::Api => f.write_str(crate::API_CRATE),
            Pkg::Conflict { declarer, other } => {
                write!(f, "the conflict of {declarer} with {other}")
            }
        }
    }
}

pub(crate) const DECLARER_SIDE: Version = Version::new(0, 0, 0);
pub(crate) const OTHER_SIDE: Version = Version::new(1, 0, 0);

pub(crate) type Range = Ranges<Version>;

type ManifestCache = HashMap<(Arc<str>, Version), Rc<Manifest>>;

/// The solver's view of an [`Index`] and a [`Request`], with caches.
pub struct Provider<'a, I: Index + ?Sized> {
    pub(crate) index: &'a I,
    pub(crate) request: &'a Request,
    /// Conflicts known before this solve: `(declarer, other)`.
    known_conflicts: BTreeSet<(Arc<str>, Arc<str>)>,
    /// Conflicts declared by the versions this solve looked at.
    pub(crate) seen_conflicts: RefCell<BTreeSet<(Arc<str>, Arc<str>)>>,
    candidates: RefCell<HashMap<Arc<str>, Rc<Vec<Candidate>>>>,
    manifests: RefCell<ManifestCache>,
    /// The text of each requirement, to show the user's own words in reports.
    pub(crate) req_text: RefCell<HashMap<(Pkg, Range), String>>,
}

impl<'a, I: Index + ?Sized> Provider<'a, I> {
    pub fn new(
        index: &'a I,
        request: &'a Request,
        known_conflicts: BTreeSet<(Arc<str>, Arc<str>)>,
    ) -> Self {
        Provider {
            index,
            request,
            known_conflicts,
            seen_conflicts: RefCell::default(),
            candidates: RefCell::default(),
            manifests: RefCell::default(),
            req_text: RefCell::default(),
        }
    }

    /// The versions that may be chosen for `plugin`, newest first: no
    /// pre-release unless allowed for it, no yanked version unless locked.
    pub(crate) fn candidates(&self, plugin: &Arc<str>) -> Result<Rc<Vec<Candidate>>, IndexError> {
        if let Some(found) = self.candidates.borrow().get(plugin) {
            return Ok(found.clone());
        }
        let locked = self.request.locked.get(plugin.as_ref());
        let prerelease_ok = self.request.allows_prerelease(plugin);
        let mut versions: Vec<Candidate> = self
            .index
            .versions(plugin)?
            .into_iter()
            .filter(|c| prerelease_ok || c.version.pre.is_empty())
            .filter(|c| !c.yanked || locked == Some(&c.version))
            .collect();
        versions.sort_by(|a, b| b.version.cmp(&a.version));
        let versions = Rc::new(versions);
        self.candidates
            .borrow_mut()
            .insert(plugin.clone(), versions.clone());
        Ok(versions)
    }

    pub(crate) fn manifest(
        &self,
        plugin: &Arc<str>,
        version: &Version,
    ) -> Result<Rc<Manifest>, IndexError> {
        let key = (plugin.clone(), version.clone());
        if let Some(found) = self.manifests.borrow().get(&key) {
            return Ok(found.clone());
        }
        let manifest = Rc::new(self.index.manifest(plugin, version)?);
        self.manifests.borrow_mut().insert(key, manifest.clone());
        Ok(manifest)
    }

    fn range_of(&self, dep: Pkg, req: &VersionReq) -> Range {
        let range = req_to_ranges(req);
        self.req_text
            .borrow_mut()
            .entry((dep, range.clone()))
            .or_insert_with(|| req.to_string());
        range
    }

    /// Adds a dependency; a package named twice must satisfy both.
    fn add(&self, deps: &mut Vec<(Pkg, Range)>, pkg: Pkg, range: Range) {
        match deps.iter_mut().find(|(p, _)| *p == pkg) {
            Some((_, existing)) => *existing = existing.intersection(&range),
            None => deps.push((pkg, range)),
        }
    }
}

impl<I: Index + ?Sized> DependencyProvider for Provider<'_, I> {
    type P = Pkg;
    type V = Version;
    type VS = Range;
    type M = String;
    type Err = IndexError;
    /// Tier (forced packages, then packages with no or one candidate), conflicts, fewer candidates.
    type Priority = (u8, u32, Reverse<usize>);

    fn prioritize(
        &self,
        package: &Pkg,
        range: &Range,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let Pkg::Plugin(name) = package else {
            return (3, 0, Reverse(0));
        };
        let count = self
            .candidates(name)
            .map(|c| c.iter().filter(|c| range.contains(&c.version)).count())
            .unwrap_or(0);
        let tier = match count {
            0 => 2,
            1 => 1,
            _ => 0,
        };
        (tier, stats.conflict_count(), Reverse(count))
    }

    fn choose_version(&self, package: &Pkg, range: &Range) -> Result<Option<Version>, IndexError> {
        Ok(match package {
            Pkg::Root => Some(Version::new(0, 0, 0)),
            Pkg::Api => Some(self.request.api_version.clone()).filter(|v| range.contains(v)),
            Pkg::Conflict { .. } => [DECLARER_SIDE, OTHER_SIDE]
                .into_iter()
                .find(|v| range.contains(v)),
            Pkg::Plugin(name) => {
                let candidates = self.candidates(name)?;
                let preferred = self
                    .request
                    .locked
                    .get(name.as_ref())
                    .filter(|_| !self.request.unlocks(name))
                    .filter(|v| range.contains(v) && candidates.iter().any(|c| &c.version == *v));
                preferred.cloned().or_else(|| {
                    candidates
                        .iter()
                        .find(|c| range.contains(&c.version))
                        .map(|c| c.version.clone())
                })
            }
        })
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Range, String>, IndexError> {
        let mut deps = Vec::new();
        match package {
            Pkg::Root => {
                for (name, req) in &self.request.requirements {
                    let pkg = Pkg::Plugin(Arc::from(name.as_str()));
                    let range = self.range_of(pkg.clone(), req);
                    self.add(&mut deps, pkg, range);
                }
            }
            Pkg::Api | Pkg::Conflict { .. } => {}
            Pkg::Plugin(name) => {
                let manifest = self.manifest(name, version)?;
                for (dep, req) in &manifest.dependencies {
                    let dep: Arc<str> = crate::normalize(dep).into();
                    if dep == *name {
                        continue; // A crate cannot depend on itself; ignore a stray entry.
                    }
                    let pkg = Pkg::Plugin(dep);
                    let range = self.range_of(pkg.clone(), req);
                    self.add(&mut deps, pkg, range);
                }
                let api = self.range_of(Pkg::Api, &manifest.api);
                self.add(&mut deps, Pkg::Api, api);
                for other in &manifest.conflicts {
                    let other: Arc<str> = crate::normalize(other).into();
                    self.seen_conflicts
                        .borrow_mut()
                        .insert((name.clone(), other.clone()));
                    let proxy = Pkg::Conflict {
                        declarer: name.clone(),
                        other,
                    };
                    self.add(&mut deps, proxy, Ranges::singleton(DECLARER_SIDE));
                }
                for (declarer, other) in &self.known_conflicts {
                    if other == name {
                        let proxy = Pkg::Conflict {
                            declarer: declarer.clone(),
                            other: other.clone(),
                        };
                        self.add(&mut deps, proxy, Ranges::singleton(OTHER_SIDE));
                    }
                }
            }
        }
        Ok(Dependencies::Available(deps.into_iter().collect()))
    }
}
