//! Turning pubgrub's derivation tree into sentences a person can act on.
//!
//! The tree is walked iteratively (explicit stack, no recursion), so a
//! 2,000-deep chain of plugins renders without overflowing the stack
//! (pubgrub-rs issue 293 is about its recursive reporter). Each derived fact
//! becomes one line, "Because A and B, C.", children before parents; a fact
//! used again later is numbered and referred to by number. Version ranges
//! are simplified against the versions that exist, and requirements are
//! shown as their authors wrote them (`^0.3`, not `>=0.3.0, <0.4.0-0`).

use std::collections::HashMap;
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use pubgrub::{DerivationTree, Derived, External, Ranges, Term};
use semver::Version;

use crate::index::{Index, IndexError};
use crate::provider::{Pkg, Provider, Range, Written, DECLARER_SIDE, HOST_API};
use crate::ranges::req_to_ranges;

type Tree = DerivationTree<Pkg, Range, String>;
type Node = Derived<Pkg, Range, String>;

/// An explanation of why no set of versions works, and what to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The explanation, one sentence per line.
    pub text: String,
    /// What to try.
    pub hint: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n\nhint: {}", self.text, self.hint)
    }
}

#[derive(Clone)]
struct Line {
    text: String,
    number: Option<usize>,
}

/// The most lines a report prints: where its reasoning starts (the root
/// cause, first) and where it ends (the conclusion, last), with what lies
/// between counted rather than printed.
const MAX_LINES: usize = 200;

fn bounded(lines: &[Line]) -> Vec<Line> {
    if lines.len() <= MAX_LINES {
        return lines.to_vec();
    }
    let (head, tail) = (MAX_LINES / 2, MAX_LINES / 2);
    let left_out = lines.len() - head - tail;
    let mut kept = lines[..head].to_vec();
    kept.push(Line {
        text: format!("… {left_out} more lines of this reasoning are left out here …"),
        number: None,
    });
    kept.extend_from_slice(&lines[lines.len() - tail..]);
    kept
}

struct Explainer<'p, 'a, I: Index + ?Sized> {
    provider: &'p Provider<'a, I>,
    written: Written,
    lines: Vec<Line>,
    /// Which line explains each derived node (by address).
    line_of: HashMap<usize, usize>,
    /// Self-contained lines by their text.
    line_by_text: HashMap<String, usize>,
}

fn key(node: &Node) -> usize {
    std::ptr::from_ref(node) as usize
}

/// Explains `tree` in sentences and picks a hint.
pub(crate) fn explain<I: Index + ?Sized>(
    tree: &Tree,
    provider: &Provider<'_, I>,
) -> Result<Report, IndexError> {
    let mut explainer = Explainer {
        provider,
        written: provider.written()?,
        lines: Vec::new(),
        line_of: HashMap::new(),
        line_by_text: HashMap::new(),
    };
    match tree {
        DerivationTree::External(external) => {
            let sentence = explainer.external(external)?;
            explainer.lines.push(Line {
                text: format!("{sentence}."),
                number: None,
            });
        }
        DerivationTree::Derived(root) => explainer.walk(root)?,
    }
    let numbered = explainer
        .lines
        .iter()
        .filter(|l| l.number.is_some())
        .count();
    let lines = bounded(&explainer.lines);
    // A back-reference is numbered at the end of the line it labels, and
    // each new line of reasoning (one that does not follow from the line
    // before) starts after a blank line, as pubgrub, dart and uv print them.
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        let continues = ["And because", "So ", "…"]
            .iter()
            .any(|start| line.text.starts_with(start));
        if i > 0 {
            text.push_str(if continues { "\n" } else { "\n\n" });
        }
        text.push_str(&line.text);
        if let (Some(n), true) = (line.number, numbered > 0) {
            text.push_str(&format!(" ({n})"));
        }
    }
    let hint = hint(tree, provider, &explainer.written)?;
    Ok(Report { text, hint })
}

impl<I: Index + ?Sized> Explainer<'_, '_, I> {
    /// Post-order over derived nodes with an explicit stack.
    fn walk(&mut self, root: &Node) -> Result<(), IndexError> {
        let mut stack: Vec<(&Node, bool)> = vec![(root, false)];
        while let Some((node, children_done)) = stack.pop() {
            if self.line_of.contains_key(&key(node)) {
                continue;
            }
            if !children_done {
                stack.push((node, true));
                for cause in [&node.cause2, &node.cause1] {
                    if let DerivationTree::Derived(child) = cause.as_ref() {
                        if !self.line_of.contains_key(&key(child)) {
                            stack.push((child, false));
                        }
                    }
                }
                continue;
            }
            self.emit(node)?;
        }
        Ok(())
    }

    fn emit(&mut self, node: &Node) -> Result<(), IndexError> {
        // A fact that only says "versions that do not exist do not exist"
        // adds nothing: drop it, and let a node that rests on it alone share
        // its other cause's line.
        let trivial = [
            self.is_trivial(&node.cause1, &node.cause2)?,
            self.is_trivial(&node.cause2, &node.cause1)?,
        ];
        for (cause, other_trivial) in [(&node.cause1, trivial[1]), (&node.cause2, trivial[0])] {
            if let (DerivationTree::Derived(child), true) = (cause.as_ref(), other_trivial) {
                let line = self.line_of[&key(child)];
                self.line_of.insert(key(node), line);
                return Ok(());
            }
        }
        let conclusion = self.terms(&node.terms)?;
        let previous = self.lines.len().checked_sub(1);
        let mut facts = Vec::new();
        let mut derived = Vec::new();
        let mut follows_previous = false;
        for (cause, is_trivial) in [
            (node.cause1.as_ref(), trivial[0]),
            (node.cause2.as_ref(), trivial[1]),
        ] {
            match cause {
                _ if is_trivial => {}
                DerivationTree::External(external) => {
                    let sentence = self.external(external)?;
                    if !sentence.is_empty() {
                        // What a plugin needs reads before what is missing.
                        let first = matches!(external, External::FromDependencyOf(..));
                        facts.push((!first, sentence));
                    }
                }
                DerivationTree::Derived(child) => {
                    let line = self.line_of[&key(child)];
                    if Some(line) == previous && !follows_previous {
                        follows_previous = true;
                    } else {
                        let child_conclusion = self.terms(&child.terms)?;
                        let number = self.number(line);
                        derived.push(format!("{child_conclusion} ({number})"));
                    }
                }
            }
        }
        facts.sort_by_key(|(later, _)| *later);
        let derived_count = derived.len();
        let causes: Vec<String> = derived
            .into_iter()
            .chain(facts.into_iter().map(|(_, s)| s))
            .collect();
        let text = match (follows_previous, causes.as_slice()) {
            (true, []) => format!("So {conclusion}."),
            (true, causes) => format!("And because {}, {conclusion}.", causes.join(" and ")),
            (false, []) => format!("{conclusion}."),
            // One fact and what it implies say the same: state the fact.
            (false, [fact]) if derived_count == 0 => format!("{fact}."),
            (false, causes) => format!("Because {}, {conclusion}.", causes.join(" and ")),
        };
        // The same fact reached along another path is referred back to, not
        // told again (a line that starts "And"/"So" depends on the one
        // before it, so only self-contained ones are shared).
        if !follows_previous {
            if let Some(&line) = self.line_by_text.get(&text) {
                self.line_of.insert(key(node), line);
                return Ok(());
            }
            self.line_by_text.insert(text.clone(), self.lines.len());
        }
        self.line_of.insert(key(node), self.lines.len());
        self.lines.push(Line { text, number: None });
        Ok(())
    }

    /// A `NoVersions` fact about versions of a known plugin that do not
    /// exist, next to a fact about the versions that do: it only widens the
    /// other fact to every version. (Next to a requirement, it is the news.)
    fn is_trivial(&mut self, tree: &Tree, other: &Tree) -> Result<bool, IndexError> {
        let DerivationTree::External(External::NoVersions(Pkg::Plugin(name), range)) = tree else {
            return Ok(false);
        };
        let about_own_versions = match other {
            DerivationTree::Derived(_) => true,
            DerivationTree::External(
                External::FromDependencyOf(dependent, ..) | External::Custom(dependent, ..),
            ) => *dependent == Pkg::Plugin(name.clone()),
            DerivationTree::External(_) => false,
        };
        let table = self.provider.table(name)?;
        let n = table.versions.len() as u32;
        Ok(about_own_versions && n > 0 && !(0..n).any(|r| range.contains(&r)))
    }

    fn number(&mut self, line: usize) -> usize {
        let next = self.lines.iter().filter(|l| l.number.is_some()).count() + 1;
        *self.lines[line].number.get_or_insert(next)
    }

    /// `scope-fx 2.0.0`, `scope-fx >=1.0.0, <2.0.0`, `any version of scope-fx`.
    fn describe(&mut self, pkg: &Pkg, range: &Range) -> Result<String, IndexError> {
        let host = &self.provider.request.api_version;
        Ok(match pkg {
            Pkg::Root => "plugins.toml".to_owned(),
            Pkg::Api => match self.written(pkg, range) {
                Some(req) => format!("{} {req}", crate::API_CRATE),
                None if range.contains(&HOST_API) => format!("{} {host}", crate::API_CRATE),
                None => format!("{} other than {host}", crate::API_CRATE),
            },
            Pkg::Conflict { declarer, other } => {
                format!("the conflict between {declarer} and {other}")
            }
            Pkg::Plugin(name) => {
                let table = self.provider.table(name)?;
                let n = table.versions.len() as u32;
                let inside: Vec<u32> = (0..n).filter(|r| range.contains(r)).collect();
                if let [only] = inside.as_slice() {
                    format!("{name} {}", table.versions[*only as usize])
                } else if range == &Ranges::full()
                    || (!inside.is_empty() && inside.len() as u32 == n)
                {
                    format!("any version of {name}")
                } else if inside.is_empty() {
                    match self.written(pkg, range) {
                        Some(req) => format!("{name} {req}"),
                        None => format!("{name} (no version)"),
                    }
                } else {
                    format!("{name} {}", show_range(&table.versions_of(range)))
                }
            }
        })
    }

    fn written(&self, pkg: &Pkg, range: &Range) -> Option<String> {
        self.written.get(None, pkg, range)
    }

    /// How `dependent` wrote its requirement on `pkg`, else the range.
    fn requirement(
        &mut self,
        dependent: &Pkg,
        pkg: &Pkg,
        range: &Range,
    ) -> Result<String, IndexError> {
        let written = self.written.get(Some(dependent), pkg, range);
        match written.as_deref() {
            Some("*") => Ok(pkg.to_string()),
            Some(text) => Ok(format!("{pkg} {text}")),
            None => self.describe(pkg, range),
        }
    }

    fn external(&mut self, external: &External<Pkg, Range, String>) -> Result<String, IndexError> {
        Ok(match external {
            External::NotRoot(..) => String::new(),
            External::NoVersions(Pkg::Api, _) => {
                format!(
                    "the host provides {} {}",
                    crate::API_CRATE,
                    self.provider.request.api_version
                )
            }
            External::NoVersions(Pkg::Plugin(name), range) => {
                let pkg = Pkg::Plugin(name.clone());
                let described = self.describe(&pkg, range)?;
                let table = self.provider.table(name)?;
                let inside: Vec<usize> = (0..table.versions.len())
                    .filter(|&r| range.contains(&(r as u32)))
                    .collect();
                if table.versions.is_empty() {
                    format!("no plugin named {name} was found")
                } else if inside.iter().any(|&r| table.yanked[r]) {
                    match (described.strip_prefix("any version of "), inside.len()) {
                        (Some(name), _) => format!("every version of {name} is yanked"),
                        (None, 1) => format!("{described} is yanked"),
                        (None, _) => format!("every version of {described} is yanked"),
                    }
                } else if !inside.is_empty() {
                    format!(
                        "{described} is a pre-release, which is chosen only when asked for by name"
                    )
                } else {
                    let wanted = match self.written(&pkg, range) {
                        Some(text) if text == "*" => name.to_string(),
                        Some(text) => format!("{name} {text}"),
                        None => described.clone(),
                    };
                    let reqs = self.written.reqs(&pkg, range);
                    let near: Vec<String> = reqs
                        .iter()
                        .flat_map(|req| prereleases_near(&table.versions, &req_to_ranges(req)))
                        .collect();
                    match near.as_slice() {
                        [] => format!("there is no version of {wanted}"),
                        pre => format!(
                            "no release of {wanted} exists (only the pre-release {})",
                            pre.join(", ")
                        ),
                    }
                }
            }
            External::NoVersions(pkg, range) => {
                format!("there is no {}", self.describe(pkg, range)?)
            }
            External::FromDependencyOf(Pkg::Root, _, dep @ Pkg::Plugin(name), range) => {
                let request = &self.provider.request;
                if let Some(origin) = request.origins.get(name.as_ref()) {
                    // Its version is what its source holds: plugins.toml
                    // names only the source.
                    match fixed_version(request, name) {
                        Some(version) => format!("{name} is {} at {version}", origin.source),
                        None => format!("{name} is {}", origin.source),
                    }
                } else if request.tried.as_ref().is_some_and(|t| t.matches(name)) {
                    format!("{} is the version tried", self.describe(dep, range)?)
                } else {
                    format!(
                        "plugins.toml asks for {}",
                        self.requirement(&Pkg::Root, dep, range)?
                    )
                }
            }
            External::FromDependencyOf(Pkg::Root, _, dep, range) => {
                format!(
                    "plugins.toml asks for {}",
                    self.requirement(&Pkg::Root, dep, range)?
                )
            }
            External::FromDependencyOf(pkg, versions, Pkg::Conflict { declarer, other }, side) => {
                let who = self.describe(pkg, versions)?;
                if side.contains(&DECLARER_SIDE) {
                    format!("{who} conflicts with {other}")
                } else {
                    format!("{who} cannot be installed with {declarer}")
                }
            }
            External::FromDependencyOf(pkg, versions, dep, range) => {
                let mut who = self.describe(pkg, versions)?;
                // A path or git plugin's requirements are in its manifest.
                if let Pkg::Plugin(name) = pkg {
                    if let Some(origin) = self.provider.request.origins.get(name.as_ref()) {
                        who = format!("{who} ({})", origin.manifest);
                    }
                }
                let verb = if *dep == Pkg::Api {
                    "needs"
                } else {
                    "depends on"
                };
                format!("{who} {verb} {}", self.requirement(pkg, dep, range)?)
            }
            // The provider's only custom reason: a version that depends on
            // itself at a version it is not.
            External::Custom(pkg, range, reason) => {
                format!("{} {reason}", self.describe(pkg, range)?)
            }
        })
    }

    /// The fact a derived node establishes.
    fn terms(&mut self, terms: &pubgrub::Map<Pkg, Term<Range>>) -> Result<String, IndexError> {
        let mut positive = Vec::new();
        let mut negative = Vec::new();
        let mut sorted: Vec<(&Pkg, &Term<Range>)> = terms.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut conflicts = Vec::new();
        for (pkg, term) in sorted {
            match (pkg, term) {
                (Pkg::Conflict { declarer, other }, Term::Negative(side)) => {
                    conflicts.push(if side.contains(&DECLARER_SIDE) {
                        format!("conflicts with {other}")
                    } else {
                        format!("cannot be installed with {declarer}")
                    });
                }
                (Pkg::Conflict { .. }, Term::Positive(_)) => {}
                (_, Term::Positive(_)) if *pkg == Pkg::Root => {}
                (_, Term::Positive(range)) => positive.push(self.describe(pkg, range)?),
                (_, Term::Negative(range)) => negative.push(self.describe(pkg, range)?),
            }
        }
        if let ([one], [], [conflict]) = (
            positive.as_slice(),
            negative.as_slice(),
            conflicts.as_slice(),
        ) {
            return Ok(format!("{one} {conflict}"));
        }
        // The fact is "not all of these at once": every positive term chosen
        // and none of the negative ones. So the positive ones together need
        // at least one of the negative ones: "unless A or B".
        Ok(render_terms(&positive, &negative))
    }
}

/// The sentence for an incompatibility with these positive and negative
/// terms (each already described).
fn render_terms(positive: &[String], negative: &[String]) -> String {
    let either = negative.join(" or ");
    match (positive, negative) {
        ([], []) => "no set of plugin versions satisfies plugins.toml".to_owned(),
        ([], [needed]) => format!("{needed} is needed"),
        ([], _) => format!("{either} is needed"),
        ([one], []) => format!("{one} cannot be used"),
        ([one], [needed]) => format!("{one} needs {needed}"),
        ([one], _) => format!("{one} cannot be used unless {either} is chosen"),
        (many, []) => format!("{} cannot be used together", many.join(" and ")),
        (many, _) => format!(
            "{} cannot be used together unless {either} is chosen",
            many.join(" and ")
        ),
    }
}

/// A range as a person writes it: `>=1.2.0, <2.0.0`, `=1.4.0`, `*`.
pub(crate) fn show_range(range: &Ranges<Version>) -> String {
    if range == &Ranges::full() {
        return "*".into();
    }
    if range.is_empty() {
        return "(no version)".into();
    }
    if let Some(only) = range.as_singleton() {
        return format!("={only}");
    }
    let show = |v: &Version| {
        // `2.0.0-0` is how upper bounds skip pre-releases; people write `2.0.0`.
        if v.pre.as_str() == "0" {
            format!("{}.{}.{}", v.major, v.minor, v.patch)
        } else {
            v.to_string()
        }
    };
    let parts: Vec<String> = range
        .iter()
        .map(|(lo, hi)| {
            let lo = match lo {
                Bound::Included(v) => Some(format!(">={}", show(v))),
                Bound::Excluded(v) => Some(format!(">{}", show(v))),
                Bound::Unbounded => None,
            };
            let hi = match hi {
                Bound::Included(v) => Some(format!("<={}", show(v))),
                Bound::Excluded(v) => Some(format!("<{}", show(v))),
                Bound::Unbounded => None,
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) => format!("{lo}, {hi}"),
                (Some(one), None) | (None, Some(one)) => one,
                (None, None) => "*".into(),
            }
        })
        .collect();
    parts.join(" or ")
}

/// Pre-releases whose release would fall in `range` (`2.0.0-rc.1` for `^2`).
fn prereleases_near(versions: &[Version], range: &Ranges<Version>) -> Vec<String> {
    versions
        .iter()
        .filter(|v| !v.pre.is_empty())
        .filter(|v| range.contains(&Version::new(v.major, v.minor, v.patch)))
        .map(ToString::to_string)
        .collect()
}

/// Every external fact in the tree, iteratively.
fn externals(tree: &Tree) -> Vec<&External<Pkg, Range, String>> {
    let mut found = Vec::new();
    let mut stack = vec![tree];
    let mut seen = std::collections::HashSet::new();
    while let Some(node) = stack.pop() {
        match node {
            DerivationTree::External(external) => found.push(external),
            DerivationTree::Derived(derived) => {
                if seen.insert(key(derived)) {
                    stack.push(&derived.cause1);
                    stack.push(&derived.cause2);
                }
            }
        }
    }
    found
}

/// What to try, from the facts that made resolution fail.
fn hint<I: Index + ?Sized>(
    tree: &Tree,
    provider: &Provider<'_, I>,
    written: &Written,
) -> Result<String, IndexError> {
    let host = &provider.request.api_version;
    let facts = externals(tree);
    for fact in &facts {
        if let External::FromDependencyOf(Pkg::Plugin(name), _, Pkg::Api, range) = fact {
            if !range.contains(&HOST_API) {
                return Ok(match newest_for_host(provider, name)? {
                    Some(version) => format!(
                        "{name} {version} is the newest version that works with this host ({} {host}): `scopectl install {name}@{}`",
                        crate::API_CRATE,
                        caret(&version)
                    ),
                    None => format!(
                        "no version of {name} works with this host ({} {host}); remove it, or wait for a release built for this API",
                        crate::API_CRATE
                    ),
                });
            }
        }
    }
    for fact in &facts {
        if let External::FromDependencyOf(_, _, Pkg::Conflict { declarer, other }, _) = fact {
            return Ok(format!(
                "{declarer} and {other} cannot be installed together: uninstall one of them"
            ));
        }
    }
    for fact in &facts {
        if let External::NoVersions(Pkg::Plugin(name), range) = fact {
            let table = provider.table(name)?;
            if table.versions.is_empty() {
                return Ok(format!(
                    "check the name `{name}`, and the registry it comes from"
                ));
            }
            let pkg = Pkg::Plugin(name.clone());
            let reqs = written.reqs(&pkg, range);
            let wanted = match reqs.as_slice() {
                [] => table.versions_of(range),
                reqs => reqs
                    .iter()
                    .fold(Ranges::empty(), |acc, req| acc.union(&req_to_ranges(req))),
            };
            let pre = table
                .versions
                .iter()
                .filter(|v| !v.pre.is_empty())
                .filter(|v| {
                    wanted.contains(v)
                        || !prereleases_near(std::slice::from_ref(v), &wanted).is_empty()
                })
                .max();
            if let Some(newest) = pre {
                return Ok(format!("pre-releases are chosen only when asked for by name: `scopectl install {name}@={newest}`"));
            }
            let yanked =
                (0..table.versions.len()).any(|r| table.yanked[r] && range.contains(&(r as u32)));
            if yanked {
                // Who asked for the yanked versions: the user, or a plugin.
                let asked_by = facts.iter().find_map(|fact| match fact {
                    External::FromDependencyOf(
                        dependent @ Pkg::Plugin(_),
                        _,
                        Pkg::Plugin(dep),
                        _,
                    ) if dep == name => Some(dependent.to_string()),
                    _ => None,
                });
                return Ok(match asked_by {
                    Some(dependent) => format!("yanked versions of {name} are used only when already locked; {dependent} asks for one: ask for a version of {dependent} that does not"),
                    None => format!("yanked versions of {name} are used only when already locked; ask for a version that is not yanked"),
                });
            }
        }
    }
    // A requirement that a path or git plugin's version cannot meet: the
    // version is its source's, so the requirement or the source changes.
    for fact in &facts {
        let External::FromDependencyOf(Pkg::Plugin(dependent), _, Pkg::Plugin(dep), range) = fact
        else {
            continue;
        };
        let request = &provider.request;
        let (Some(origin), Some(version)) = (
            request.origins.get(dep.as_ref()),
            fixed_version(request, dep),
        ) else {
            continue;
        };
        let table = provider.table(dep)?;
        let at = table.versions.iter().position(|v| *v == version);
        if at.is_some_and(|at| range.contains(&(at as u32))) {
            continue;
        }
        let asked = written
            .get(
                Some(&Pkg::Plugin(dependent.clone())),
                &Pkg::Plugin(dep.clone()),
                range,
            )
            .unwrap_or_else(|| "the version it asks for".to_owned());
        let source = &origin.source;
        return Ok(match request.origins.get(dependent.as_ref()) {
            Some(own) => format!(
                "change {dependent}'s requirement on {dep} ({asked}) in {} so that it accepts {version}, or give {dep} ({source}) a version it accepts",
                own.manifest
            ),
            None => format!(
                "{dependent} asks for {dep} {asked}, and {dep} is {source} at {version}: give it a version that matches, or install a version of {dependent} that accepts {version}"
            ),
        });
    }
    // Locked plugins move only when asked: say so only when one is involved.
    let locked_involved = externals(tree).iter().any(|e| match e {
        External::FromDependencyOf(_, _, Pkg::Plugin(name), _)
        | External::NoVersions(Pkg::Plugin(name), _) => {
            provider.request.locked.contains_key(name.as_ref())
        }
        _ => false,
    });
    Ok(if locked_involved {
        "loosen the version requirements in plugins.toml, or run `scopectl update` to let locked plugins move".into()
    } else {
        "loosen the version requirements in plugins.toml".into()
    })
}

/// The one version a path or git plugin can be (its requirement is `=V`).
fn fixed_version(request: &crate::Request, name: &str) -> Option<Version> {
    let req = request.requirements.get(name)?;
    match req.comparators.as_slice() {
        [only] if only.op == semver::Op::Exact => Some(Version {
            major: only.major,
            minor: only.minor.unwrap_or(0),
            patch: only.patch.unwrap_or(0),
            pre: only.pre.clone(),
            build: semver::BuildMetadata::EMPTY,
        }),
        _ => None,
    }
}

/// The newest version of `name` whose API requirement matches the host's.
fn newest_for_host<I: Index + ?Sized>(
    provider: &Provider<'_, I>,
    name: &Arc<str>,
) -> Result<Option<Version>, IndexError> {
    for candidate in provider.candidates(name)?.iter() {
        let manifest = provider.manifest(name, &candidate.version)?;
        if req_to_ranges(&manifest.api).contains(&provider.request.api_version) {
            return Ok(Some(candidate.version.clone()));
        }
    }
    Ok(None)
}

/// The shortest caret requirement that selects `version`: `1.4` for 1.4.0.
fn caret(version: &Version) -> String {
    if !version.pre.is_empty() {
        return format!("={version}");
    }
    match (version.major, version.minor, version.patch) {
        (0, 0, patch) => format!("0.0.{patch}"),
        (0, minor, 0) => format!("0.{minor}"),
        (major, minor, 0) if major > 0 => format!("{major}.{minor}"),
        _ => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::render_terms;

    fn words(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Every shape of an incompatibility: no, one or several positive terms
    /// (plugins chosen) against no, one or several negative ones (plugins
    /// one of which must be chosen). Several negative terms are
    /// alternatives: "or", never "and".
    #[test]
    fn every_term_shape_reads_as_what_it_means() {
        for (positive, negative, expected) in [
            (
                &[][..],
                &[][..],
                "no set of plugin versions satisfies plugins.toml",
            ),
            (&[], &["a 1.0.0"], "a 1.0.0 is needed"),
            (&[], &["a 1.0.0", "b 2.0.0"], "a 1.0.0 or b 2.0.0 is needed"),
            (&["c 1.0.0"], &[], "c 1.0.0 cannot be used"),
            (&["c 1.0.0"], &["b 1.0.0"], "c 1.0.0 needs b 1.0.0"),
            (
                &["any version of c"],
                &["a 3.0.0", "b 1.0.0"],
                "any version of c cannot be used unless a 3.0.0 or b 1.0.0 is chosen",
            ),
            (
                &["a 1.0.0", "b 1.0.0"],
                &[],
                "a 1.0.0 and b 1.0.0 cannot be used together",
            ),
            (
                &["a 1.0.0", "b 1.0.0"],
                &["c 2.0.0"],
                "a 1.0.0 and b 1.0.0 cannot be used together unless c 2.0.0 is chosen",
            ),
            (
                &["a 1.0.0", "b 1.0.0"],
                &["c 2.0.0", "d 1.0.0"],
                "a 1.0.0 and b 1.0.0 cannot be used together unless c 2.0.0 or d 1.0.0 is chosen",
            ),
        ] {
            assert_eq!(render_terms(&words(positive), &words(negative)), expected);
        }
    }
}
