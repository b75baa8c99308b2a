//! `resolved.lock`: deterministic text, round trips, newer formats refused.

use std::path::{Path, PathBuf};

use scope_lockfile::{ArtifactPin, CratePin, GitReference, LockError, Lockfile, Pin, PinSource};
use scope_name::PluginName;
use semver::Version;

fn name(text: &str) -> PluginName {
    PluginName::new(text).unwrap()
}

fn sample() -> Lockfile {
    Lockfile {
        host_version: Version::new(0, 1, 0),
        api_version: Version::new(0, 1, 0),
        plugins: vec![
            Pin {
                name: name("scope-invert"),
                version: Version::new(0, 2, 0),
                source: PinSource::Registry {
                    registry: "crates-io".into(),
                    checksum: "ab".repeat(32),
                },
                dependencies: vec![],
            },
            Pin {
                name: name("color-generator"),
                version: Version::new(1, 0, 0),
                source: PinSource::Git {
                    url: "https://example.org/me/color-generator".into(),
                    reference: GitReference::Tag("v1.0.0".into()),
                    commit: "0123456789abcdef0123456789abcdef01234567".into(),
                },
                dependencies: vec![name("scope-invert")],
            },
        ],
        crates: vec![CratePin {
            name: "fastrand".into(),
            version: Version::new(2, 3, 0),
            source: Some("registry+sparse+https://registry.example.org/index/".into()),
            checksum: Some("cd".repeat(32)),
            dependencies: vec![],
        }],
        artifacts: vec![ArtifactPin {
            plugin: "depth-fx".into(),
            name: "weights".into(),
            sha256: "ef".repeat(32),
            size: 67_108_864,
            url: "https://models.example.org/depth.bin".into(),
            unpack: false,
        }],
    }
}

#[test]
fn the_text_is_sorted_and_stable() {
    let text = sample().to_toml();
    let mut shuffled = sample();
    shuffled.plugins.reverse();
    assert_eq!(shuffled.to_toml(), text, "order in memory does not matter");
    let color = text.find("name = \"color-generator\"").unwrap();
    let invert = text.find("name = \"scope-invert\"").unwrap();
    assert!(color < invert, "sorted by name:\n{text}");
    assert!(text.contains("version = 1\n"), "{text}");
    assert!(
        text.contains("commit = \"0123456789abcdef0123456789abcdef01234567\""),
        "{text}"
    );
}

#[test]
fn a_newer_format_is_refused() {
    let text = sample().to_toml().replace("version = 1\n", "version = 2\n");
    let err = Lockfile::parse(Path::new("resolved.lock"), &text).unwrap_err();
    assert!(matches!(err, LockError::TooNew { found: 2, .. }));
    assert_eq!(
        err.to_string(),
        "resolved.lock has format version 2, newer than this scopectl reads (1); upgrade scopectl"
    );
}

#[test]
fn damage_is_reported_with_what_to_do() {
    let text = sample()
        .to_toml()
        .replace("version = \"0.2.0\"", "version = \"two\"");
    let err = Lockfile::parse(Path::new("resolved.lock"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plugin `scope-invert`: `version = \"two\"` is not a version"),
        "{err}"
    );
    assert!(err.contains("scopectl sync"), "{err}");
}

fn random_lockfile(rng: &mut fastrand::Rng) -> Lockfile {
    let version = |rng: &mut fastrand::Rng| {
        let mut v = Version::new(rng.u64(0..5), rng.u64(0..20), rng.u64(0..50));
        if rng.u8(0..5) == 0 {
            v.pre = semver::Prerelease::new("rc.1").unwrap();
        }
        v
    };
    let word = |rng: &mut fastrand::Rng| -> String {
        let len = rng.usize(1..12);
        (0..len)
            .map(|_| {
                *rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789-_\"\\ ")
                    .unwrap() as char
            })
            .collect()
    };
    let ident = |rng: &mut fastrand::Rng| -> String {
        (0..rng.usize(1..12))
            .map(|_| {
                *rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
                    .unwrap() as char
            })
            .collect()
    };
    let plugins = (0..rng.usize(0..6))
        .map(|i| Pin {
            name: name(&format!("p{i}-{}", ident(rng))),
            version: version(rng),
            source: match rng.u8(0..3) {
                0 => PinSource::Registry {
                    registry: word(rng),
                    checksum: word(rng),
                },
                1 => PinSource::Git {
                    url: word(rng),
                    reference: match rng.u8(0..4) {
                        0 => GitReference::DefaultBranch,
                        1 => GitReference::Branch(word(rng)),
                        2 => GitReference::Tag(word(rng)),
                        _ => GitReference::Rev(word(rng)),
                    },
                    commit: word(rng),
                },
                _ => PinSource::Path {
                    path: PathBuf::from(format!("/src/{}", word(rng))),
                },
            },
            dependencies: (0..rng.usize(0..3))
                .map(|_| name(&format!("d{}", ident(rng))))
                .collect(),
        })
        .collect();
    let crates = (0..rng.usize(0..8))
        .map(|_| CratePin {
            name: word(rng),
            version: version(rng),
            source: rng.bool().then(|| word(rng)),
            checksum: rng.bool().then(|| word(rng)),
            dependencies: (0..rng.usize(0..3)).map(|_| word(rng)).collect(),
        })
        .collect();
    Lockfile {
        host_version: version(rng),
        api_version: version(rng),
        plugins,
        crates,
        artifacts: Vec::new(),
    }
}

#[test]
fn parse_after_write_is_the_identity() {
    let mut rng = fastrand::Rng::with_seed(7);
    for case in 0..500 {
        let mut lock = random_lockfile(&mut rng);
        let text = lock.to_toml();
        let parsed = Lockfile::parse(Path::new("resolved.lock"), &text)
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        lock.normalize();
        assert_eq!(parsed, lock, "case {case}");
        assert_eq!(
            parsed.to_toml(),
            text,
            "case {case}: writing again gives the same text"
        );
    }
}

#[test]
fn the_crate_graph_writes_back_as_the_cargo_lock_it_came_from() {
    let cargo_lock = r#"version = 4

[[package]]
name = "helper"
version = "1.0.0"
source = "registry+https://example.org/index"
checksum = "abab"

[[package]]
name = "host"
version = "0.1.0"
dependencies = [
 "helper",
 "lexopt 0.3.1 (registry+https://example.org/index)",
]
"#;
    let path = Path::new("Cargo.lock");
    let crates = CratePin::from_cargo_lock(path, cargo_lock).unwrap();
    assert_eq!(
        crates[1].dependencies,
        [
            "helper",
            "lexopt 0.3.1 (registry+https://example.org/index)"
        ]
    );
    let written = CratePin::to_cargo_lock(&crates);
    assert_eq!(CratePin::from_cargo_lock(path, &written).unwrap(), crates);
    let lock = Lockfile {
        crates: crates.clone(),
        artifacts: Vec::new(),
        ..sample()
    };
    let again = Lockfile::parse(path, &lock.to_toml()).unwrap();
    assert_eq!(again.crates, crates, "resolved.lock keeps the edges");
}
