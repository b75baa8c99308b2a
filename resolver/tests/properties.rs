//! The resolver against a brute-force oracle on small random universes, and
//! on a chain too deep for a recursive reporter.

use std::collections::BTreeMap;

use scope_resolver::{req_to_ranges, resolve, Index, Manifest, MemoryIndex, Request, ResolveError};
use semver::{Version, VersionReq};

const HOST_API: Version = Version::new(0, 1, 0);

struct Universe {
    index: MemoryIndex,
    request: Request,
    names: Vec<String>,
}

fn random_req(rng: &mut fastrand::Rng) -> VersionReq {
    let (major, minor) = (rng.u64(0..3), rng.u64(0..3));
    let text = match rng.u8(0..7) {
        0 => "*".to_owned(),
        1 => format!("^{major}.{minor}"),
        2 => format!("~{major}.{minor}"),
        3 => format!(">={major}.{minor}"),
        4 => format!("<{major}.{minor}"),
        5 => format!("={major}.{minor}.0"),
        _ => format!("{major}"),
    };
    VersionReq::parse(&text).unwrap()
}

fn random_universe(rng: &mut fastrand::Rng) -> Universe {
    let names: Vec<String> = (0..rng.usize(2..=5)).map(|i| format!("p{i}")).collect();
    let mut index = MemoryIndex::new();
    for name in &names {
        for _ in 0..rng.usize(1..=4) {
            let mut version = Version::new(rng.u64(0..3), rng.u64(0..3), 0);
            if rng.u8(0..10) == 0 {
                version.pre = semver::Prerelease::new("beta.1").unwrap();
            }
            let dependencies = (0..rng.usize(0..=2))
                .map(|_| (names[rng.usize(0..names.len())].clone(), random_req(rng)))
                .filter(|(dep, _)| dep != name)
                .collect();
            let api = VersionReq::parse(["*", "^0.1", "^0.1", "^0.2"][rng.usize(0..4)]).unwrap();
            let conflicts = if rng.u8(0..10) == 0 {
                vec![names[rng.usize(0..names.len())].clone()]
            } else {
                vec![]
            };
            let manifest = Manifest {
                dependencies,
                api,
                conflicts,
            };
            index.add(name, version, rng.u8(0..7) == 0, manifest);
        }
    }
    let mut request = Request::new(HOST_API);
    for name in &names {
        if rng.bool() {
            request = request.require(&n(name), random_req(rng));
        }
        if rng.u8(0..4) == 0 {
            let versions = index.versions(name).unwrap();
            let pick = &versions[rng.usize(0..versions.len())];
            request = request.lock(&n(name), pick.version.clone());
        }
    }
    Universe {
        index,
        request,
        names,
    }
}

/// Every rule a solution must keep; `None` when it keeps them all.
fn violation(universe: &Universe, chosen: &BTreeMap<String, Version>) -> Option<String> {
    let request = &universe.request;
    for (name, req) in &request.requirements {
        match chosen.get(name.normalized()) {
            Some(v) if req_to_ranges(req).contains(v) => {}
            other => return Some(format!("{name} {req} requested, chosen {other:?}")),
        }
    }
    for (name, version) in chosen {
        let offered = universe.index.versions(name).unwrap();
        let Some(candidate) = offered.iter().find(|c| &c.version == version) else {
            return Some(format!("{name} {version} does not exist"));
        };
        if candidate.yanked && request.locked.get(name.as_str()) != Some(version) {
            return Some(format!("{name} {version} is yanked and not locked"));
        }
        if !version.pre.is_empty() && !request.allows_prerelease(name) {
            return Some(format!(
                "{name} {version} is a pre-release nobody asked for"
            ));
        }
        let manifest = universe.index.manifest(name, version).unwrap();
        if !req_to_ranges(&manifest.api).contains(&HOST_API) {
            return Some(format!("{name} {version} needs API {}", manifest.api));
        }
        for (dep, req) in &manifest.dependencies {
            match chosen.get(dep) {
                Some(v) if req_to_ranges(req).contains(v) => {}
                other => {
                    return Some(format!(
                        "{name} {version} needs {dep} {req}, chosen {other:?}"
                    ))
                }
            }
        }
        for other in &manifest.conflicts {
            if chosen.contains_key(other) {
                return Some(format!("{name} {version} conflicts with {other}"));
            }
        }
    }
    None
}

/// Whether any assignment (each plugin absent or at one version) keeps every rule.
fn solvable(universe: &Universe) -> bool {
    let options: Vec<Vec<Option<Version>>> = universe
        .names
        .iter()
        .map(|name| {
            let mut versions: Vec<Option<Version>> = universe
                .index
                .versions(name)
                .unwrap()
                .into_iter()
                .map(|c| Some(c.version))
                .collect();
            versions.push(None);
            versions
        })
        .collect();
    let mut counters = vec![0usize; options.len()];
    loop {
        let chosen: BTreeMap<String, Version> = universe
            .names
            .iter()
            .zip(&counters)
            .zip(&options)
            .filter_map(|((name, &i), opts)| opts[i].clone().map(|v| (name.clone(), v)))
            .collect();
        if violation(universe, &chosen).is_none() {
            return true;
        }
        let mut position = 0;
        loop {
            if position == counters.len() {
                return false;
            }
            counters[position] += 1;
            if counters[position] < options[position].len() {
                break;
            }
            counters[position] = 0;
            position += 1;
        }
    }
}

#[test]
fn agrees_with_brute_force_on_random_universes() {
    let mut rng = fastrand::Rng::with_seed(0x5c0be);
    let (mut solved, mut unsolvable) = (0, 0);
    for case in 0..600 {
        let universe = random_universe(&mut rng);
        let exists = solvable(&universe);
        match resolve(&universe.index, &universe.request) {
            Ok(resolution) => {
                let chosen = resolution
                    .plugins
                    .iter()
                    .map(|(n, p)| (n.to_string(), p.version.clone()))
                    .collect();
                if let Some(problem) = violation(&universe, &chosen) {
                    panic!(
                        "case {case}: the resolver's solution breaks a rule: {problem}\n{:?}",
                        universe.request
                    );
                }
                assert!(
                    exists,
                    "case {case}: the oracle found no solution but the resolver did"
                );
                solved += 1;
            }
            Err(ResolveError::NoSolution(report)) => {
                assert!(
                    !exists,
                    "case {case}: a solution exists but the resolver said:\n{report}\n{:?}",
                    universe.request
                );
                assert!(!report.text.is_empty() && !report.hint.is_empty());
                unsolvable += 1;
            }
            Err(other) => panic!("case {case}: {other}"),
        }
    }
    // Both outcomes must be exercised for the comparison to mean anything.
    assert!(
        solved > 100 && unsolvable > 100,
        "solved {solved}, unsolvable {unsolvable}"
    );
}

#[test]
fn a_two_thousand_deep_chain_reports_without_overflowing_the_stack() {
    let depth = 2000;
    let mut index = MemoryIndex::new();
    for i in 0..depth {
        let dependencies = if i + 1 < depth {
            vec![(format!("p{}", i + 1), VersionReq::parse("^1").unwrap())]
        } else {
            vec![]
        };
        let api = VersionReq::parse(if i + 1 == depth { "^0.2" } else { "^0.1" }).unwrap();
        index.add(
            &format!("p{i}"),
            Version::new(1, 0, 0),
            false,
            Manifest {
                dependencies,
                api,
                conflicts: vec![],
            },
        );
    }
    let request = Request::new(HOST_API).require(&n("p0"), VersionReq::parse("^1").unwrap());
    // A thread with a small stack, as test threads and worker threads have.
    let report = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || match resolve(&index, &request) {
            Err(ResolveError::NoSolution(report)) => report,
            other => panic!("expected no solution, got {other:?}"),
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    let lines: Vec<&str> = report.text.lines().collect();
    // Bounded: where the reasoning starts and where it ends, the middle counted.
    assert!(lines.len() <= 201, "{} lines", lines.len());
    assert!(
        lines.contains(&"… 1802 more lines of this reasoning are left out here …"),
        "{}",
        report.text
    );
    assert_eq!(lines[0], "p1999 1.0.0 needs scope-plugin-api ^0.2.");
    assert_eq!(
        lines[lines.len() - 3..],
        [
            "And because the host provides scope-plugin-api 0.1.0, p1 1.0.0 cannot be used.",
            "And because p0 1.0.0 depends on p1 ^1, p0 1.0.0 cannot be used.",
            "And because plugins.toml asks for p0 ^1, no set of plugin versions satisfies plugins.toml.",
        ]
    );
    assert_eq!(report.hint, "no version of p1999 works with this host (scope-plugin-api 0.1.0); remove it, or wait for a release built for this API");
}

/// A plugin name.
fn n(name: &str) -> scope_resolver::PluginName {
    scope_resolver::PluginName::new(name).unwrap()
}
