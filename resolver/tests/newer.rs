//! "Why not newer", as `update --check` reports it.

use scope_resolver::{newer, Constraint, Manifest, MemoryIndex, Request};
use semver::{Version, VersionReq};

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn req(s: &str) -> VersionReq {
    VersionReq::parse(s).unwrap()
}

fn add(index: &mut MemoryIndex, name: &str, version: &str, api: &str, deps: &[(&str, &str)]) {
    let dependencies = deps
        .iter()
        .map(|(d, r)| ((*d).to_owned(), req(r)))
        .collect();
    index.add(
        name,
        v(version),
        false,
        Manifest {
            dependencies,
            api: req(api),
            conflicts: vec![],
        },
    );
}

#[test]
fn a_newer_compatible_version_is_an_update() {
    let mut index = MemoryIndex::new();
    add(&mut index, "fx", "1.0.0", "*", &[]);
    add(&mut index, "fx", "1.3.0", "*", &[]);
    let request = Request::new(v("0.1.0"))
        .require(&n("fx"), req("^1"))
        .lock(&n("fx"), v("1.0.0"));
    let found = newer(&index, &request, &n("fx")).unwrap();
    assert!(found.update_available());
    assert_eq!(
        (found.installed, found.newest_compatible, found.newest),
        (v("1.0.0"), v("1.3.0"), Some(v("1.3.0")))
    );
    assert_eq!(found.blocked_by, None);
}

#[test]
fn a_newer_version_for_another_api_is_reported_with_the_reason() {
    let mut index = MemoryIndex::new();
    add(&mut index, "scope-fx", "0.2.0", "^0.1", &[]);
    add(&mut index, "scope-fx", "0.3.0", "^0.2", &[]);
    let request = Request::new(v("0.1.4"))
        .require(&n("scope-fx"), req("*"))
        .lock(&n("scope-fx"), v("0.2.0"));
    let found = newer(&index, &request, &n("scope-fx")).unwrap();
    assert!(!found.update_available());
    assert_eq!(found.newest, Some(v("0.3.0")));
    assert_eq!(
        found.blocked_by.unwrap().to_string(),
        "scope-fx 0.3.0 needs scope-plugin-api ^0.2; this host provides 0.1.4"
    );
}

#[test]
fn a_newer_version_another_plugin_excludes_names_that_plugin() {
    let mut index = MemoryIndex::new();
    add(&mut index, "glow", "1.0.0", "*", &[("blur", "^0.3")]);
    add(&mut index, "blur", "0.3.0", "*", &[]);
    add(&mut index, "blur", "0.4.0", "*", &[]);
    let request = Request::new(v("0.1.0"))
        .require(&n("glow"), req("*"))
        .lock(&n("glow"), v("1.0.0"))
        .lock(&n("blur"), v("0.3.0"));
    let found = newer(&index, &request, &n("blur")).unwrap();
    assert!(!found.update_available());
    let blocked = found.blocked_by.unwrap();
    assert!(matches!(blocked, Constraint::Requirement { .. }));
    assert_eq!(
        blocked.to_string(),
        "glow 1.0.0 requires blur ^0.3, which 0.4.0 does not match"
    );
}

#[test]
fn nothing_newer_is_no_update_and_no_reason() {
    let mut index = MemoryIndex::new();
    add(&mut index, "fx", "1.0.0", "*", &[]);
    let request = Request::new(v("0.1.0"))
        .require(&n("fx"), req("*"))
        .lock(&n("fx"), v("1.0.0"));
    let found = newer(&index, &request, &n("fx")).unwrap();
    assert!(!found.update_available());
    assert_eq!((found.newest, found.blocked_by), (Some(v("1.0.0")), None));
}

#[test]
fn a_newer_version_blocked_further_down_gets_the_solvers_explanation() {
    let mut index = MemoryIndex::new();
    add(&mut index, "app", "1.0.0", "*", &[("lib", "^1")]);
    add(&mut index, "app", "2.0.0", "*", &[("lib", "^2")]);
    add(&mut index, "lib", "1.0.0", "*", &[]);
    add(&mut index, "lib", "2.0.0", "^0.9", &[]);
    let request = Request::new(v("0.1.0"))
        .require(&n("app"), req("*"))
        .lock(&n("app"), v("1.0.0"))
        .lock(&n("lib"), v("1.0.0"));
    let found = newer(&index, &request, &n("app")).unwrap();
    assert!(!found.update_available());
    let Some(Constraint::Unsolvable { report }) = found.blocked_by else {
        panic!(
            "expected the solver's explanation, got {:?}",
            found.blocked_by
        );
    };
    assert!(
        report.contains("lib 2.0.0 needs scope-plugin-api ^0.9"),
        "{report}"
    );
    assert!(
        report.contains("the host provides scope-plugin-api 0.1.0"),
        "{report}"
    );
    // plugins.toml asks for `app = "*"`; 2.0.0 is the check's own trial.
    assert!(
        report.contains("app 2.0.0 is the version tried"),
        "{report}"
    );
    assert!(
        !report.contains("plugins.toml asks for app =2.0.0"),
        "{report}"
    );
}

/// A plugin name.
fn n(name: &str) -> scope_resolver::PluginName {
    scope_resolver::PluginName::new(name).unwrap()
}
