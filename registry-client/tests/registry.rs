//! The sparse-registry client against the fixture registry on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scope_registry_client::http::{Http, HttpSettings, Reporter};
use scope_registry_client::registry::{Registry, RegistryError};
use scope_test_support::{block_on as run, FixtureRegistry, Package};

#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);

impl Reporter for Warnings {
    fn retrying(&self, url: &str, why: &str, wait: Duration, _left: u32) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{url}: {why}; retrying in {wait:?}"));
    }
}

struct Scene {
    server: FixtureRegistry,
    temp: tempfile::TempDir,
    warnings: Arc<Warnings>,
}

fn scene() -> Scene {
    Scene {
        server: FixtureRegistry::start(),
        temp: tempfile::tempdir().unwrap(),
        warnings: Arc::default(),
    }
}

fn settings() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(5),
        retries: 3,
        backoff: Duration::from_millis(20),
    }
}

impl Scene {
    fn registry_with(&self, settings: HttpSettings, offline: bool) -> Registry {
        let http = Arc::new(Http::new(settings, self.warnings.clone()).unwrap());
        Registry::new(
            "fixture",
            &self.server.index_url(),
            &self.temp.path().join("cache"),
            http,
            offline,
        )
        .unwrap()
    }

    fn registry(&self) -> Registry {
        self.registry_with(settings(), false)
    }
}

#[test]
fn index_entries_list_versions_yanked_flags_and_dependencies() {
    let s = scene();
    Package::new("scope-fx", "1.0.0")
        .api("^0.1")
        .publish(&s.server);
    Package::new("scope-fx", "1.1.0")
        .api("^0.1")
        .dep("blur", "^0.3")
        .yanked()
        .publish(&s.server);
    let krate = run(s.registry().krate("scope-fx")).unwrap().expect("found");
    let versions: Vec<(String, bool)> = krate
        .versions
        .iter()
        .map(|v| (v.version.to_string(), v.yanked))
        .collect();
    assert_eq!(
        versions,
        [("1.0.0".to_owned(), false), ("1.1.0".to_owned(), true)]
    );
    let deps: Vec<String> = krate.versions[1]
        .deps
        .iter()
        .map(|d| format!("{} {}", d.name, d.req))
        .collect();
    assert_eq!(deps, ["scope-plugin-api ^0.1", "blur ^0.3"]);
    assert_eq!(run(s.registry().krate("nothing-here")).unwrap(), None);
    assert!(
        s.server
            .requests()
            .contains(&"/index/sc/op/scope-fx".to_owned()),
        "{:?}",
        s.server.requests()
    );
}

#[test]
fn a_cached_entry_is_revalidated_with_its_etag() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    run(s.registry().krate("fx")).unwrap().unwrap();
    assert_eq!(s.server.not_modified(), 0);
    let again = run(s.registry().krate("fx")).unwrap().unwrap();
    assert_eq!(
        s.server.not_modified(),
        1,
        "the second fetch was answered 304"
    );
    assert_eq!(again.versions.len(), 1, "and read from the cache");
    Package::new("fx", "1.1.0").publish(&s.server);
    let changed = run(s.registry().krate("fx")).unwrap().unwrap();
    assert_eq!(
        changed.versions.len(),
        2,
        "a changed entry is fetched in full"
    );
}

#[test]
fn offline_reads_come_from_the_cache_and_a_miss_says_what_is_missing() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    run(s.registry().krate("fx")).unwrap();
    s.server.clear_requests();
    let offline = s.registry_with(settings(), true);
    assert_eq!(run(offline.krate("fx")).unwrap().unwrap().versions.len(), 1);
    let err = run(offline.krate("blur")).unwrap_err();
    assert!(matches!(err, RegistryError::NotCached { .. }), "{err}");
    assert!(
        err.to_string().contains("no cached entry for `blur`"),
        "{err}"
    );
    assert!(s.server.requests().is_empty(), "offline makes no request");
}

#[test]
fn two_server_errors_then_success_warns_twice() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    let registry = s.registry();
    run(registry.config()).unwrap();
    s.server.switches(|sw| sw.fail_next = 2);
    run(registry.krate("fx")).unwrap().unwrap();
    let warnings = s.warnings.0.lock().unwrap().clone();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("the server answered 500"),
        "{warnings:?}"
    );
}

#[test]
fn a_404_is_asked_exactly_once() {
    let s = scene();
    let registry = s.registry();
    run(registry.config()).unwrap();
    s.server.clear_requests();
    assert_eq!(run(registry.krate("missing")).unwrap(), None);
    assert_eq!(s.server.requests().len(), 1);
    assert!(s.warnings.0.lock().unwrap().is_empty());
}

#[test]
fn a_429_waits_as_retry_after_says() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    let registry = s.registry();
    run(registry.config()).unwrap();
    s.server.switches(|sw| sw.rate_limit_next = 1);
    let started = Instant::now();
    run(registry.krate("fx")).unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert!(s.warnings.0.lock().unwrap()[0].contains("429"));
}

#[test]
fn a_stalled_body_fails_within_the_timeout() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    let quick = HttpSettings {
        timeout: Duration::from_millis(500),
        retries: 1,
        backoff: Duration::from_millis(10),
    };
    let registry = s.registry_with(quick, false);
    run(registry.config()).unwrap();
    s.server
        .switches(|sw| sw.stall_body = Some(Duration::from_secs(10)));
    // Without the timeout the body would arrive after the stall and the
    // request succeed; with it, both attempts give up.
    let err = run(registry.krate("fx")).unwrap_err();
    assert!(err.to_string().contains("after 2 attempts"), "{err}");
}

#[test]
fn a_truncated_body_is_retried() {
    let s = scene();
    let checksum = Package::new("fx", "1.0.0")
        .file("src/big.rs", &"x".repeat(10_000))
        .publish(&s.server);
    let registry = s.registry();
    s.server.switches(|sw| sw.truncate_next = 1);
    let downloads = s.temp.path().join("downloads");
    let path = run(registry.download("fx", "1.0.0", &checksum, &downloads)).unwrap();
    assert!(path.is_file());
    assert_eq!(s.warnings.0.lock().unwrap().len(), 1, "one retry");
}

#[test]
fn downloads_are_verified_cached_by_checksum_and_reverified() {
    let s = scene();
    let checksum = Package::new("scope-fx", "1.0.0").publish(&s.server);
    let registry = s.registry();
    let downloads = s.temp.path().join("downloads");
    let path = run(registry.download("scope-fx", "1.0.0", &checksum, &downloads)).unwrap();
    assert_eq!(path, downloads.join(format!("{checksum}.crate")));
    let dl = s
        .server
        .requests()
        .into_iter()
        .find(|r| r.starts_with("/dl/"))
        .unwrap();
    assert_eq!(
        dl,
        format!("/dl/scope-fx/1.0.0/sc/op/sc/op/{checksum}"),
        "every dl marker is filled"
    );

    s.server.clear_requests();
    run(registry.download("scope-fx", "1.0.0", &checksum, &downloads)).unwrap();
    assert!(
        s.server.requests().is_empty(),
        "a verified cached file is reused"
    );

    fs_err::write(&path, b"corrupted").unwrap();
    run(registry.download("scope-fx", "1.0.0", &checksum, &downloads)).unwrap();
    assert_eq!(
        s.server.requests().len(),
        1,
        "a corrupt cached file is fetched again"
    );
}

#[test]
fn a_wrong_checksum_leaves_nothing_in_the_cache_and_is_not_retried() {
    let s = scene();
    let checksum = Package::new("fx", "1.0.0")
        .wrong_checksum()
        .publish(&s.server);
    let registry = s.registry();
    run(registry.config()).unwrap();
    s.server.clear_requests();
    let downloads = s.temp.path().join("downloads");
    let err = run(registry.download("fx", "1.0.0", &checksum, &downloads)).unwrap_err();
    assert!(matches!(err, RegistryError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("failed verification"), "{err}");
    assert_eq!(
        fs_err::read_dir(&downloads).unwrap().count(),
        0,
        "nothing kept"
    );
    assert_eq!(s.server.requests().len(), 1, "no retry");
}

#[test]
fn an_auth_required_registry_needs_the_token_and_never_prints_it() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    s.server
        .switches(|sw| sw.token = Some("s3cret-token".into()));
    let err = run(s.registry().krate("fx")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "registry `fixture` requires authentication: set SCOPE_REGISTRY_TOKEN_FIXTURE"
    );
}

#[test]
fn a_token_given_to_the_registry_opens_an_auth_required_index() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    s.server
        .switches(|sw| sw.token = Some("s3cret-token".into()));
    let registry = s.registry().with_token(Some("s3cret-token".into()));
    let krate = run(registry.krate("fx")).unwrap().expect("listed");
    assert_eq!(krate.versions.len(), 1);
}

#[test]
fn plain_http_is_only_for_loopback() {
    let temp = tempfile::tempdir().unwrap();
    let http = Arc::new(Http::new(settings(), Arc::new(Warnings::default())).unwrap());
    for (url, expected) in [
        ("sparse+http://registry.example.org/index/", "plain http"),
        ("https://registry.example.org/index/", "not a sparse index"),
        ("sparse+ftp://registry.example.org/", "not supported"),
    ] {
        let err = Registry::new("acme", url, temp.path(), http.clone(), false)
            .err()
            .expect("refused");
        assert!(err.to_string().contains(expected), "{url}: {err}");
    }
    Registry::new(
        "acme",
        "sparse+http://localhost:1/index/",
        temp.path(),
        http.clone(),
        false,
    )
    .unwrap();
    Registry::new(
        "acme",
        "sparse+http://[::1]:1/index/",
        temp.path(),
        http,
        false,
    )
    .unwrap();
}

#[test]
fn concurrent_fetches_return_every_entry_in_order() {
    let s = scene();
    let names: Vec<String> = (0..20).map(|i| format!("crate-{i}")).collect();
    for name in &names {
        Package::new(name, "1.0.0").publish(&s.server);
    }
    let registry = Arc::new(s.registry());
    let results = run(registry.krates(&names));
    let got: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(results.iter().all(|(_, r)| matches!(r, Ok(Some(_)))));
}

#[test]
fn plugins_and_the_plugins_they_depend_on_reach_the_resolver() {
    use scope_registry_client::plugins::{collect, to_index};
    use scope_resolver::{resolve, Request};
    let s = scene();
    Package::new("glow", "1.0.0")
        .api("^0.1")
        .dep("blur", "^0.3")
        .dep("serde-like", "1")
        .publish(&s.server);
    Package::new("blur", "0.3.0").api("^0.1").publish(&s.server);
    Package::new("blur", "0.3.1").api("^0.2").publish(&s.server);
    Package::new("serde-like", "1.0.0").publish(&s.server);
    let registry = Arc::new(s.registry());
    let plugins = run(collect(&registry, &["glow".to_owned()])).unwrap();
    assert_eq!(
        plugins.keys().collect::<Vec<_>>(),
        ["blur", "glow"],
        "the non-plugin is left to cargo"
    );
    let index = to_index(&plugins);
    let request = Request::new(semver::Version::new(0, 1, 0))
        .require(&"glow".parse().unwrap(), semver::VersionReq::STAR);
    let resolution = resolve(&index, &request).unwrap();
    assert_eq!(
        resolution.plugins["blur"].version,
        semver::Version::new(0, 3, 0),
        "0.3.1 needs API 0.2"
    );

    let err = run(collect(&registry, &["serde-like".to_owned()])).unwrap_err();
    assert!(
        err.to_string()
            .contains("`serde-like` is not a Scope plugin"),
        "{err}"
    );
}

#[test]
fn the_default_registry_follows_cargos_source_replacement() {
    let s = scene();
    Package::new("scope-fx", "1.0.0")
        .api("^0.1")
        .publish(&s.server);
    let cargo_home = s.temp.path().join("cargo-home");
    fs_err::create_dir_all(&cargo_home).unwrap();
    let config = format!(
        "[source.crates-io]\nreplace-with = \"mirror\"\n\n[source.mirror]\nregistry = \"{}\"\n",
        s.server.index_url()
    );
    fs_err::write(cargo_home.join("config.toml"), config).unwrap();
    let http = Arc::new(Http::new(settings(), s.warnings.clone()).unwrap());
    let registry = Registry::default_registry_in(
        Some(s.temp.path()),
        Some(&cargo_home),
        &s.temp.path().join("cache"),
        http,
        false,
    )
    .unwrap();
    let krate = run(registry.krate("scope-fx"))
        .unwrap()
        .expect("served by the replacement");
    assert_eq!(krate.versions.len(), 1);
}

#[test]
fn a_registry_that_writes_explicit_nulls_is_read_as_cargo_reads_it() {
    let s = scene();
    Package::new("base", "1.0.0").api("^0.1").publish(&s.server);
    let checksum = Package::new("fx", "1.0.0")
        .api("^0.1")
        .dep("base", "^1")
        .publish(&s.server);
    s.server.switches(|sw| sw.explicit_nulls = true);
    let registry = s.registry();
    let krate = run(registry.krate("fx")).unwrap().expect("listed");
    let deps: Vec<&str> = krate.versions[0]
        .deps
        .iter()
        .map(|d| d.crate_name())
        .collect();
    assert!(deps.contains(&"base"), "{deps:?}");
    assert!(krate.versions[0]
        .deps
        .iter()
        .all(|d| d.kind() == tame_index::krate::DependencyKind::Normal));
    let downloads = s.temp.path().join("downloads");
    let path = run(registry.download("fx", "1.0.0", &checksum, &downloads)).unwrap();
    assert!(path.is_file());
}

#[test]
fn a_config_json_failure_names_the_registry_once_for_each_crate() {
    let s = scene();
    Package::new("fx", "1.0.0").publish(&s.server);
    s.server
        .switches(|sw| sw.token = Some("s3cret-token".into()));
    let registry = Arc::new(s.registry());
    let fetched = run(registry.krates(&["fx".to_owned(), "gx".to_owned()]));
    assert_eq!(fetched.len(), 2);
    for (_, result) in fetched {
        assert_eq!(
            result.unwrap_err().to_string(),
            "registry `fixture` requires authentication: set SCOPE_REGISTRY_TOKEN_FIXTURE"
        );
    }
}
