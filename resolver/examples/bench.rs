//! Resolver benchmark: prints medians.
//!
//! `cargo run --release -p scope-resolver --example resolver-bench`

use std::time::{Duration, Instant};

use scope_resolver::{resolve, Manifest, MemoryIndex, Request, ResolveError};
use semver::{Version, VersionReq};

const RUNS: usize = 11;
const HOST_API: Version = Version::new(0, 1, 0);

fn req(text: &str) -> VersionReq {
    VersionReq::parse(text).unwrap()
}

/// `plugins` plugins of 50 versions each (majors 0-9, minors 0-4); each
/// version depends on up to three later plugins with requirements that some
/// version meets. With `future_api`, half the plugins' ten newest versions
/// need an API the host does not have.
fn universe(plugins: usize, future_api: bool, seed: u64) -> (MemoryIndex, Request) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut index = MemoryIndex::new();
    for i in 0..plugins {
        for n in 0..50u64 {
            let version = Version::new(n / 5, n % 5, 0);
            let dependencies = (0..rng.usize(0..=3))
                .filter_map(|_| {
                    let j = rng.usize(i + 1..plugins.max(i + 2));
                    (j < plugins).then(|| (format!("p{j}"), req(&format!(">={}.0", rng.u64(0..5)))))
                })
                .collect();
            let api = if future_api && i % 2 == 0 && n >= 40 {
                req("^0.2")
            } else {
                req("^0.1")
            };
            index.add(
                &format!("p{i}"),
                version,
                false,
                Manifest {
                    dependencies,
                    api,
                    conflicts: vec![],
                },
            );
        }
    }
    let mut request = Request::new(HOST_API);
    for i in 0..plugins {
        request = request.require(&n(&format!("p{i}")), req("*"));
    }
    (index, request)
}

/// `levels` plugins in a chain, 50 versions each: version k of level l needs
/// level l+1 at major k, and only the oldest version of the last level works
/// with the host, so the solver must walk every level down to the bottom.
fn backtracking(levels: usize) -> (MemoryIndex, Request) {
    let mut index = MemoryIndex::new();
    for level in 0..levels {
        for k in 0..50u64 {
            let dependencies = if level + 1 < levels {
                vec![(format!("l{}", level + 1), req(&format!("^{k}")))]
            } else {
                vec![]
            };
            let api = if level + 1 == levels && k > 0 {
                req("^0.2")
            } else {
                req("^0.1")
            };
            index.add(
                &format!("l{level}"),
                Version::new(k, 0, 0),
                false,
                Manifest {
                    dependencies,
                    api,
                    conflicts: vec![],
                },
            );
        }
    }
    (index, Request::new(HOST_API).require(&n("l0"), req("*")))
}

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// `n` plugins `a{i}` whose newest version needs `b{i}` ^2 while `b{i}` is
/// locked at 1.0.0: every `a{i}` is held back, and each hold is explained
/// by asking whether a set with the newer version exists.
fn held(n_plugins: usize) -> (MemoryIndex, Request) {
    let mut index = MemoryIndex::new();
    let mut request = Request::new(HOST_API);
    let plain = || Manifest {
        dependencies: vec![],
        api: req("^0.1"),
        conflicts: vec![],
    };
    for i in 0..n_plugins {
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        index.add(&a, Version::new(1, 0, 0), false, plain());
        index.add(
            &a,
            Version::new(2, 0, 0),
            false,
            Manifest {
                dependencies: vec![(b.clone(), req("^2"))],
                ..plain()
            },
        );
        index.add(&b, Version::new(1, 0, 0), false, plain());
        index.add(&b, Version::new(2, 0, 0), false, plain());
        request = request
            .require(&n(&a), req("*"))
            .require(&n(&b), req("*"))
            .lock(&n(&b), Version::new(1, 0, 0));
    }
    (index, request)
}

/// The universe behind pubgrub issue 293, as reconstructed from cargo's
/// `resolving_with_constrained_cousins_backtrack`: 100 levels of 49
/// versions that each need the next level, the last needing
/// `constrained >=1.1.0, <=2.0.0`, while `cloaking` needs
/// `constrained ~1.0.0`. About 5,000 versions, every one a way to fail.
pub fn constrained_cousins(depth: usize, branching: u64) -> (MemoryIndex, Request) {
    let mut index = MemoryIndex::new();
    let plain = |dependencies: Vec<(String, VersionReq)>| Manifest {
        dependencies,
        api: req("^0.1"),
        conflicts: vec![],
    };
    for level in 0..=depth {
        for v in 1..branching {
            let dependency = if level < depth {
                (format!("trap{}", level + 1), req("*"))
            } else {
                ("constrained".to_owned(), req(">=1.1.0, <=2.0.0"))
            };
            index.add(
                &format!("trap{level}"),
                Version::new(1, 0, v),
                false,
                plain(vec![dependency]),
            );
        }
    }
    for v in 1..branching + 10 {
        index.add("constrained", Version::new(1, 0, v), false, plain(vec![]));
    }
    for version in ["1.1.0", "2.0.0", "2.0.1"] {
        index.add(
            "constrained",
            Version::parse(version).unwrap(),
            false,
            plain(vec![]),
        );
    }
    index.add(
        "cloaking",
        Version::new(1, 0, 0),
        false,
        plain(vec![("constrained".to_owned(), req("~1.0.0"))]),
    );
    let request = Request::new(HOST_API)
        .require(&n("trap0"), req("*"))
        .require(&n("cloaking"), req("*"));
    (index, request)
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1000.0)
}

#[allow(clippy::disallowed_methods)] // PROFILE is the benchmark's own switch
fn main() {
    if let Some(case) = std::env::var_os("PROFILE") {
        if case == "cousins" {
            let (index, request) = constrained_cousins(100, 50);
            let _ = resolve(&index, &request);
            return;
        }
        let (index, request) = if case == "backtracking" {
            backtracking(20)
        } else {
            universe(1000, case == "future", 1)
        };
        for _ in 0..40 {
            resolve(&index, &request).expect("solvable");
        }
        // `PROFILE=random|future|backtracking|cousins`: one case, many times (cousins: once), for a profiler.
        return;
    }
    println!("resolver benchmark, median of {RUNS} runs (targets: resolve <= 50 ms, any report <= 50 ms)");

    let (index, request) = universe(1000, false, 1);
    let time = median(|| {
        resolve(&index, &request).expect("solvable");
    });
    println!(
        "  1,000 plugins x 50 versions, random compatible constraints:  {}",
        ms(time)
    );

    let (index, request) = universe(1000, true, 2);
    let time = median(|| {
        resolve(&index, &request).expect("solvable");
    });
    println!(
        "  the same, half the newest versions need a future API:        {}",
        ms(time)
    );

    let (index, request) = backtracking(20);
    let time = median(|| {
        resolve(&index, &request).expect("solvable");
    });
    println!(
        "  heavy backtracking: 20-level chain, only the oldest works:   {}",
        ms(time)
    );

    for plugins in [10, 20] {
        let (index, request) = held(plugins);
        let time = median(|| {
            let resolution = resolve(&index, &request).expect("solvable");
            assert!(resolution
                .plugins
                .values()
                .any(|p| matches!(p.choice, scope_resolver::Choice::Held { .. })));
        });
        println!(
            "  {plugins} plugins each held back by a locked one, with reasons:  {}",
            ms(time)
        );
    }

    // Reports: resolution plus rendering, for failures of several shapes.
    let (mut index, _) = universe(1000, false, 3);
    index.add(
        "needs-future",
        Version::new(1, 0, 0),
        false,
        Manifest {
            dependencies: vec![("p0".into(), req("*"))],
            api: req("^0.3"),
            conflicts: vec![],
        },
    );
    let request = Request::new(HOST_API)
        .require(&n("needs-future"), req("*"))
        .require(&n("p0"), req("*"));
    let time = median(|| {
        assert!(matches!(
            resolve(&index, &request),
            Err(ResolveError::NoSolution(_))
        ));
    });
    println!(
        "  report: a plugin that needs a future API, in that universe:  {}",
        ms(time)
    );

    let (mut index, mut request) = backtracking(20);
    index.add(
        "l19",
        Version::new(0, 0, 0),
        true,
        Manifest {
            dependencies: vec![],
            api: req("^0.9"),
            conflicts: vec![],
        },
    );
    request = request.require(&n("l19"), req(">=0.0.0"));
    let time = median(|| {
        let _ = resolve(&index, &request);
    });
    println!(
        "  report: the backtracking chain with nothing left that works: {}",
        ms(time)
    );

    let (index, request) = constrained_cousins(100, 50);
    let mut lines = 0;
    let time = median(|| match resolve(&index, &request) {
        Err(ResolveError::NoSolution(report)) => lines = report.text.lines().count(),
        other => panic!("no solution expected: {other:?}"),
    });
    println!(
        "  report: constrained cousins (pubgrub #293), 100 x 50 ({lines} lines): {}",
        ms(time)
    );

    let mut index = MemoryIndex::new();
    for i in 0..2000 {
        let dependencies = if i < 1999 {
            vec![(format!("c{}", i + 1), req("^1"))]
        } else {
            vec![]
        };
        let api = req(if i == 1999 { "^0.2" } else { "^0.1" });
        index.add(
            &format!("c{i}"),
            Version::new(1, 0, 0),
            false,
            Manifest {
                dependencies,
                api,
                conflicts: vec![],
            },
        );
    }
    let request = Request::new(HOST_API).require(&n("c0"), req("*"));
    let time = median(|| {
        assert!(matches!(
            resolve(&index, &request),
            Err(ResolveError::NoSolution(_))
        ));
    });
    println!(
        "  report: a 2,000-deep chain whose last plugin needs a future API: {}",
        ms(time)
    );
}

/// A plugin name.
fn n(name: &str) -> scope_resolver::PluginName {
    scope_resolver::PluginName::new(name).unwrap()
}
