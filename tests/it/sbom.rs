//! `scopectl sbom`: a CycloneDX 1.5 document that the reference library
//! (`cyclonedx-python-lib`, installed by `.ci/run`) validates against the
//! schema, listing every crate `resolved.lock` pins.

use crate::support;

use std::process::Command;

use support::{output, repo, stderr, TestContext};

const VALIDATE: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
if error is not None:
    sys.exit(f"invalid CycloneDX 1.5: {error}")
print("valid")
"#;

#[test]
fn the_sbom_validates_as_cyclonedx_1_5_and_lists_every_locked_crate() {
    let context = TestContext::new();
    let install = output(
        context
            .scopectl()
            .arg("install")
            .arg(repo().join("fixtures/plugins/invert")),
    );
    assert!(install.status.success(), "{}", stderr(&install));
    let file = context.temp.path().join("sbom.cdx.json");
    let out = output(context.scopectl().args(["sbom", "--output"]).arg(&file));
    assert!(out.status.success(), "{}", stderr(&out));

    let validated = Command::new("python3")
        .args(["-c", VALIDATE])
        .arg(&file)
        .output()
        .expect("python3 with cyclonedx-python-lib (.ci/run installs it)");
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        stderr(&validated)
    );

    let document: serde_json::Value =
        serde_json::from_slice(&fs_err::read(&file).unwrap()).unwrap();
    let listed: Vec<String> = document["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap().to_owned())
        .collect();
    let lock_path = context.home().join("resolved.lock");
    let lock =
        scope_lockfile::Lockfile::parse(&lock_path, &fs_err::read_to_string(&lock_path).unwrap())
            .unwrap();
    assert!(!lock.crates.is_empty());
    for krate in &lock.crates {
        let purl = format!("pkg:cargo/{}@{}", krate.name, krate.version);
        assert!(listed.contains(&purl), "{purl} is missing from {listed:?}");
    }
    assert_eq!(listed.len(), lock.crates.len());
    let component = |name: &str| {
        document["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    let libc = component("libc");
    assert_eq!(
        libc["licenses"][0]["expression"], "MIT OR Apache-2.0",
        "{libc}"
    );
    assert_eq!(libc["hashes"][0]["alg"], "SHA-256", "{libc}");
    let plugin = component("scope-invert");
    assert_eq!(plugin["properties"][0]["name"], "scope:plugin", "{plugin}");
    // The same document, to stdout.
    let printed = output(context.scopectl().arg("sbom"));
    assert_eq!(printed.stdout, fs_err::read(&file).unwrap());
}
