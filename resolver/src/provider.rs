//! The [`pubgrub::DependencyProvider`] over an [`Index`].
//!
//! Packages are the user's request (the root), plugins, the host's
//! `scope-plugin-api` (one version: the host's) and one proxy package per
//! declared conflict. A conflict "A declares it cannot live with B" becomes
//! a proxy with two versions: the versions of A that declare it need the
//! proxy at `0.0.0`, every version of B needs it at `1.0.0`, so A and B can
//! never both be chosen while either can be chosen alone.
//!
//! The solver does not see semver versions. Each plugin's offered versions
//! are sorted once and the solver works on their ranks (`u32`): a
//! requirement becomes the ranks of the versions it matches. Over the
//! versions that exist this is exactly the same set algebra, and ranges of
//! small integers are far cheaper to intersect than ranges of semver
//! versions. The host's API is rank 0 (the host's version) and rank 1 (any
//! other version), so a requirement the host cannot meet is still a
//! non-empty range and the report can say what the host provides.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use pubgrub::{Dependencies, DependencyProvider, PackageResolutionStatistics, Ranges};
use rustc_hash::FxHashMap as HashMap;
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

pub(crate) const DECLARER_SIDE: u32 = 0;
pub(crate) const OTHER_SIDE: u32 = 1;
/// The API's ranks: the host's version, and any other.
pub(crate) const HOST_API: u32 = 0;
const OTHER_API: u32 = 1;

/// Requirements as written, for reports: by dependency and range, and by
/// the dependent too (pubgrub merges versions that need the same range,
/// even when their requirements were written differently).
#[derive(Default)]
pub(crate) struct Written {
    by_dependency: HashMap<(Pkg, Range), BTreeSet<String>>,
    by_edge: HashMap<(Pkg, Pkg, Range), BTreeSet<String>>,
}

impl Written {
    fn record(&mut self, dependent: &Pkg, dep: &Pkg, range: &Range, req: &VersionReq) {
        let text = req.to_string();
        self.by_dependency
            .entry((dep.clone(), range.clone()))
            .or_default()
            .insert(text.clone());
        self.by_edge
            .entry((dependent.clone(), dep.clone(), range.clone()))
            .or_default()
            .insert(text);
    }

    /// How `dependent` wrote its requirement on `dep` (any dependent when `None`).
    pub fn get(&self, dependent: Option<&Pkg>, dep: &Pkg, range: &Range) -> Option<String> {
        let texts = match dependent {
            Some(dependent) => self
                .by_edge
                .get(&(dependent.clone(), dep.clone(), range.clone())),
            None => self.by_dependency.get(&(dep.clone(), range.clone())),
        }?;
        // Requirements one of which allows everything the others do say
        // the same as that one (`>=3.10 or >=3.11` is `>=3.10`).
        let reqs: Vec<(&String, Ranges<Version>)> = texts
            .iter()
            .filter_map(|t| Some((t, req_to_ranges(&VersionReq::parse(t).ok()?))))
            .collect();
        if reqs.len() == texts.len() {
            let union = reqs
                .iter()
                .fold(Ranges::empty(), |acc, (_, r)| acc.union(r));
            if let Some((widest, _)) = reqs.iter().find(|(_, r)| *r == union) {
                return Some((*widest).clone());
            }
        }
        Some(texts.iter().cloned().collect::<Vec<_>>().join(" or "))
    }

    /// The version ranges `dep`'s requirements with this rank range stand for.
    pub fn reqs(&self, dep: &Pkg, range: &Range) -> Vec<VersionReq> {
        self.by_dependency
            .get(&(dep.clone(), range.clone()))
            .map(|texts| {
                texts
                    .iter()
                    .filter_map(|t| VersionReq::parse(t).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A set of ranks.
pub(crate) type Range = Ranges<u32>;

type ManifestCache = HashMap<(Arc<str>, Version), Rc<Manifest>>;
type DependencyCache = HashMap<(Arc<str>, u32), Rc<Vec<(Pkg, Range)>>>;

/// Every version a plugin's source offers, ascending; a version's rank is its index.
#[derive(Debug)]
pub(crate) struct Table {
    pub versions: Vec<Version>,
    pub yanked: Vec<bool>,
    /// Whether the rank may be chosen: no pre-release unless allowed, no
    /// yanked version unless locked.
    pub valid: Vec<bool>,
    pub locked: Option<u32>,
}

impl Table {
    /// The ranks of the versions in `range`. A range no version meets is
    /// the rank just past the last version, which no version has: the
    /// solver then reports that nothing matches, rather than taking the
    /// requirement for one that can never hold.
    fn ranks(&self, range: &Ranges<Version>) -> Range {
        use std::ops::Bound;
        let first_at_least = |v: &Version| self.versions.partition_point(|x| x < v) as u32;
        let first_above = |v: &Version| self.versions.partition_point(|x| x <= v) as u32;
        let n = self.versions.len() as u32;
        let ranks = range.iter().fold(Ranges::empty(), |acc, (lo, hi)| {
            let lo = match lo {
                Bound::Included(v) => first_at_least(v),
                Bound::Excluded(v) => first_above(v),
                Bound::Unbounded => 0,
            };
            let hi = match hi {
                Bound::Included(v) => first_above(v),
                Bound::Excluded(v) => first_at_least(v),
                Bound::Unbounded => n,
            };
            if lo < hi {
                acc.union(&Ranges::between(lo, hi))
            } else {
                acc
            }
        });
        if ranks.is_empty() {
            Ranges::singleton(n)
        } else {
            ranks
        }
    }

    /// The versions of `ranks`, as a version range over the versions that exist.
    pub fn versions_of(&self, ranks: &Range) -> Ranges<Version> {
        use std::ops::Bound;
        let n = self.versions.len() as u32;
        ranks.iter().fold(Ranges::empty(), |acc, (lo, hi)| {
            let lo = match lo {
                Bound::Included(r) => *r,
                Bound::Excluded(r) => r + 1,
                Bound::Unbounded => 0,
            };
            let hi = match hi {
                Bound::Included(r) => r + 1,
                Bound::Excluded(r) => *r,
                Bound::Unbounded => n,
            }
            .min(n);
            if lo >= hi {
                return acc;
            }
            let upper = match self.versions.get(hi as usize) {
                Some(v) => Ranges::strictly_lower_than(v.clone()),
                None => Ranges::full(),
            };
            let lower = if lo == 0 {
                Ranges::full()
            } else {
                Ranges::higher_than(self.versions[lo as usize].clone())
            };
            acc.union(&lower.intersection(&upper))
        })
    }
}

/// The solver's view of an [`Index`] and a [`Request`], with caches.
pub struct Provider<'a, I: Index + ?Sized> {
    pub(crate) index: &'a I,
    pub(crate) request: &'a Request,
    /// Conflicts known before this solve: `(declarer, other)`.
    known_conflicts: BTreeSet<(Arc<str>, Arc<str>)>,
    /// Conflicts declared by the versions this solve looked at.
    pub(crate) seen_conflicts: RefCell<BTreeSet<(Arc<str>, Arc<str>)>>,
    tables: RefCell<HashMap<Arc<str>, Rc<Table>>>,
    manifests: RefCell<ManifestCache>,
    dependencies: RefCell<DependencyCache>,
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
            tables: RefCell::default(),
            manifests: RefCell::default(),
            dependencies: RefCell::default(),
        }
    }

    /// The versions `plugin`'s source offers, with their ranks.
    pub(crate) fn table(&self, plugin: &Arc<str>) -> Result<Rc<Table>, IndexError> {
        if let Some(found) = self.tables.borrow().get(plugin) {
            return Ok(found.clone());
        }
        let mut offered = self.index.versions(plugin)?;
        offered.sort_by(|a, b| a.version.cmp(&b.version));
        offered.dedup_by(|a, b| a.version == b.version);
        let locked = self.request.locked.get(plugin.as_ref());
        let prerelease_ok = self.request.allows_prerelease(plugin);
        let valid = offered
            .iter()
            .map(|c| {
                (prerelease_ok || c.version.pre.is_empty())
                    && (!c.yanked || locked == Some(&c.version))
            })
            .collect();
        let versions: Vec<Version> = offered.iter().map(|c| c.version.clone()).collect();
        let table = Rc::new(Table {
            locked: locked
                .and_then(|l| versions.binary_search(l).ok())
                .map(|i| i as u32),
            yanked: offered.iter().map(|c| c.yanked).collect(),
            valid,
            versions,
        });
        self.tables
            .borrow_mut()
            .insert(plugin.clone(), table.clone());
        Ok(table)
    }

    /// The version of a plugin's rank.
    pub(crate) fn version(&self, plugin: &Arc<str>, rank: u32) -> Result<Version, IndexError> {
        Ok(self.table(plugin)?.versions[rank as usize].clone())
    }

    /// The versions that may be chosen for `plugin`, newest first: no
    /// pre-release unless allowed, no yanked version unless locked.
    pub(crate) fn candidates(&self, plugin: &Arc<str>) -> Result<Vec<Candidate>, IndexError> {
        let table = self.table(plugin)?;
        Ok((0..table.versions.len())
            .rev()
            .filter(|&i| table.valid[i])
            .map(|i| Candidate {
                version: table.versions[i].clone(),
                yanked: table.yanked[i],
            })
            .collect())
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

    /// The ranks `req` matches among `dep`'s versions. For the API: the
    /// host's version and others when it matches the host, others only when not.
    fn range_of(&self, dep: &Pkg, req: &VersionReq) -> Result<Range, IndexError> {
        Ok(match dep {
            Pkg::Plugin(name) => self.table(name)?.ranks(&req_to_ranges(req)),
            Pkg::Api if req_to_ranges(req).contains(&self.request.api_version) => Ranges::full(),
            _ => Ranges::singleton(OTHER_API),
        })
    }

    /// Every requirement this solve looked at, as written. Built only for a
    /// report, so solving never pays for it.
    pub(crate) fn written(&self) -> Result<Written, IndexError> {
        let mut written = Written::default();
        for (name, req) in &self.request.requirements {
            let dep = Pkg::Plugin(Arc::from(name.normalized()));
            written.record(&Pkg::Root, &dep, &self.range_of(&dep, req)?, req);
        }
        let seen: Vec<(Arc<str>, u32)> = self.dependencies.borrow().keys().cloned().collect();
        for (name, rank) in seen {
            let manifest = self.manifest(&name, &self.version(&name, rank)?)?;
            let dependent = Pkg::Plugin(name);
            for (dep, req) in &manifest.dependencies {
                let dep = Pkg::Plugin(crate::normalize(dep).into());
                written.record(&dependent, &dep, &self.range_of(&dep, req)?, req);
            }
            written.record(
                &dependent,
                &Pkg::Api,
                &self.range_of(&Pkg::Api, &manifest.api)?,
                &manifest.api,
            );
        }
        Ok(written)
    }

    /// A dependency of a version on its own plugin that the version itself
    /// does not satisfy makes the version unusable: why, in words. One it
    /// satisfies says nothing and is ignored.
    fn unmet_self_dependency(
        &self,
        name: &Arc<str>,
        rank: u32,
    ) -> Result<Option<String>, IndexError> {
        let version = self.version(name, rank)?;
        let manifest = self.manifest(name, &version)?;
        Ok(manifest
            .dependencies
            .iter()
            .find(|(dep, req)| {
                *crate::normalize(dep) == **name && !req_to_ranges(req).contains(&version)
            })
            .map(|(_, req)| format!("depends on itself at {req}, which it is not")))
    }

    /// What `plugin` at `rank` needs, as the solver sees it; computed once.
    fn plugin_dependencies(
        &self,
        name: &Arc<str>,
        rank: u32,
    ) -> Result<Rc<Vec<(Pkg, Range)>>, IndexError> {
        let key = (name.clone(), rank);
        if let Some(found) = self.dependencies.borrow().get(&key) {
            return Ok(found.clone());
        }
        let version = self.version(name, rank)?;
        let manifest = self.manifest(name, &version)?;
        let mut deps = Vec::new();
        for (dep, req) in &manifest.dependencies {
            let dep: Arc<str> = crate::normalize(dep).into();
            if dep == *name {
                // On itself: met (and then meaningless) or checked by
                // `unmet_self_dependency` before this is asked.
                continue;
            }
            let pkg = Pkg::Plugin(dep);
            let range = self.range_of(&pkg, req)?;
            self.add(&mut deps, pkg, range);
        }
        let api = self.range_of(&Pkg::Api, &manifest.api)?;
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
        let deps = Rc::new(deps);
        self.dependencies.borrow_mut().insert(key, deps.clone());
        Ok(deps)
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
    type V = u32;
    type VS = Range;
    type M = String;
    type Err = IndexError;
    /// Tier (forced packages, then packages with no or one candidate), conflicts, fewer candidates.
    type Priority = (u8, u8, u32, Reverse<usize>);

    fn prioritize(
        &self,
        package: &Pkg,
        range: &Range,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let Pkg::Plugin(name) = package else {
            return (3, 0, 0, Reverse(0));
        };
        let count = self
            .table(name)
            .map(|t| {
                (0..t.valid.len())
                    .filter(|&i| t.valid[i] && range.contains(&(i as u32)))
                    .count()
            })
            .unwrap_or(0);
        let tier = match count {
            0 => 2,
            1 => 1,
            _ => 0,
        };
        // A locked plugin that may keep its version is decided first, so
        // that another plugin's newer version never moves it unless no
        // other set works (SPEC: locked versions are preferred).
        let keeps_lock = !self.request.unlocks(name)
            && self
                .table(name)
                .ok()
                .and_then(|t| t.locked)
                .is_some_and(|rank| range.contains(&rank));
        (
            tier,
            u8::from(keeps_lock),
            stats.conflict_count(),
            Reverse(count),
        )
    }

    fn choose_version(&self, package: &Pkg, range: &Range) -> Result<Option<u32>, IndexError> {
        Ok(match package {
            Pkg::Root => Some(0),
            Pkg::Api => Some(HOST_API).filter(|r| range.contains(r)),
            Pkg::Conflict { .. } => [DECLARER_SIDE, OTHER_SIDE]
                .into_iter()
                .find(|r| range.contains(r)),
            Pkg::Plugin(name) => {
                let table = self.table(name)?;
                let fits =
                    |r: &u32| table.valid.get(*r as usize) == Some(&true) && range.contains(r);
                let locked = table
                    .locked
                    .filter(|_| !self.request.unlocks(name))
                    .filter(fits);
                locked.or_else(|| (0..table.versions.len() as u32).rev().find(fits))
            }
        })
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        rank: &u32,
    ) -> Result<Dependencies<Pkg, Range, String>, IndexError> {
        let deps = match package {
            Pkg::Root => {
                let mut deps = Vec::new();
                for (name, req) in &self.request.requirements {
                    let pkg = Pkg::Plugin(Arc::from(name.normalized()));
                    let range = self.range_of(&pkg, req)?;
                    self.add(&mut deps, pkg, range);
                }
                deps
            }
            Pkg::Api | Pkg::Conflict { .. } => Vec::new(),
            Pkg::Plugin(name) => {
                if let Some(reason) = self.unmet_self_dependency(name, *rank)? {
                    return Ok(Dependencies::Unavailable(reason));
                }
                self.plugin_dependencies(name, *rank)?.as_ref().clone()
            }
        };
        Ok(Dependencies::Available(deps.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_that_allow_the_same_versions_are_named_by_the_widest() {
        let mut written = Written::default();
        let lib = Pkg::Plugin(Arc::from("lib"));
        let range: Range = Ranges::singleton(0u32);
        for (who, req) in [("a", ">=3.11"), ("b", ">=3.10"), ("c", ">=3.12")] {
            let dependent = Pkg::Plugin(Arc::from(who));
            written.record(&dependent, &lib, &range, &VersionReq::parse(req).unwrap());
        }
        assert_eq!(written.get(None, &lib, &range).as_deref(), Some(">=3.10"));
        // Requirements of which none covers the others stay alternatives.
        let mut apart = Written::default();
        for (who, req) in [("a", "^1"), ("b", "^2")] {
            let dependent = Pkg::Plugin(Arc::from(who));
            apart.record(&dependent, &lib, &range, &VersionReq::parse(req).unwrap());
        }
        assert_eq!(apart.get(None, &lib, &range).as_deref(), Some("^1 or ^2"));
    }
}
