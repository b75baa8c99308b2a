//! Offline is offline: once a home's plugins are cached, `--offline` and
//! `--frozen` work with every remote gone, and never try one — the fixture
//! registry's request log stays empty and the git repository is moved away,
//! so touching it would fail loudly. What is not cached is named.

use crate::support;

use scope_test_support::{FixtureRegistry, Package};
use support::snapshot::scopectl_snapshot;
use support::{output, repo, stderr, stdout, TestContext};

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

#[test]
fn a_cached_home_works_with_every_remote_gone_and_names_what_is_missing() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("glow", "1.0.0").api("^0.1").publish(&server);
    Package::new("never-fetched", "1.0.0")
        .api("^0.1")
        .publish(&server);
    support::with_registry(&context, &server);
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    upstream.commit("first");
    let git_url = upstream.url();

    // Online: one plugin of each kind.
    ok(output(context.scopectl().args(["install", &git_url])));
    ok(support::install_from_fixture(&context, "glow"));
    let color = repo().join("fixtures/plugins/color-generator");
    ok(output(context.scopectl().arg("install").arg(&color)));
    let lock_before = fs_err::read(context.home().join("resolved.lock")).unwrap();

    // Every remote gone: the registry answers but must not be asked, the
    // git repository is not where its URL points any more.
    server.clear_requests();
    let moved = context.temp.path().join("moved-away");
    fs_err::rename(upstream.dir(), &moved).unwrap();

    let frozen = ok(output(context.scopectl().args(["sync", "--frozen"])));
    scopectl_snapshot!(&context, "sync_frozen_with_every_remote_gone", &frozen);
    let built = ok(output(context.scopectl().args([
        "build",
        "--offline",
        "--force",
    ])));
    scopectl_snapshot!(&context, "build_offline_force", &built);
    assert_eq!(
        fs_err::read(context.home().join("resolved.lock")).unwrap(),
        lock_before,
        "the same pins and crates"
    );

    let check = output(
        context
            .scopectl()
            .args(["update", "--check", "--offline", "--json"]),
    );
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let git = report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source"] == "git")
        .unwrap();
    assert_eq!(git["update_available"], false);
    assert!(
        git["reason"]
            .as_str()
            .unwrap()
            .contains("as the cache last fetched it"),
        "{git}"
    );

    let blend = repo().join("fixtures/plugins/temporal-blend");
    ok(output(
        context
            .scopectl()
            .args(["install", "--offline"])
            .arg(&blend),
    ));
    // A registry plugin comes back from the cache: its index entry and its
    // verified download.
    ok(output(context.scopectl().args([
        "uninstall",
        "--offline",
        "glow",
    ])));
    ok(output(context.scopectl().args([
        "install",
        "--offline",
        "glow",
        "--registry",
        "fixture",
    ])));

    let missing = output(context.scopectl().args([
        "install",
        "--offline",
        "never-fetched",
        "--registry",
        "fixture",
    ]));
    scopectl_snapshot!(&context, "a_crate_never_fetched", &missing);

    // A new branch of the moved repository is not cached either: named.
    let other = output(context.scopectl().args([
        "install",
        "--offline",
        "--branch",
        "elsewhere",
        &git_url,
    ]));
    scopectl_snapshot!(&context, "a_branch_never_fetched", &other);

    assert_eq!(
        server.requests(),
        Vec::<String>::new(),
        "no request reached the registry"
    );
    let list = ok(output(context.scopectl().args(["list"])));
    assert_eq!(stdout(&list).lines().count(), 4, "{}", stdout(&list));
}

#[test]
fn fetch_on_a_fresh_home_makes_a_frozen_sync_work_without_the_network() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("glow", "1.0.0").api("^0.1").publish(&server);
    support::with_registry(&context, &server);
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    upstream.commit("first");
    ok(output(
        context.scopectl().args(["install", &upstream.url()]),
    ));
    ok(support::install_from_fixture(&context, "glow"));

    // A fresh home with the committed files.
    let fresh = TestContext::new();
    fs_err::create_dir_all(fresh.home()).unwrap();
    for file in ["plugins.toml", "resolved.lock"] {
        fs_err::copy(context.home().join(file), fresh.home().join(file)).unwrap();
    }
    ok(output(fresh.scopectl().args(["fetch", "--locked"])));

    server.clear_requests();
    fs_err::rename(upstream.dir(), context.temp.path().join("moved-away")).unwrap();
    ok(output(fresh.scopectl().args(["sync", "--frozen"])));
    assert_eq!(server.requests(), Vec::<String>::new());
    assert_eq!(
        fs_err::read_to_string(fresh.home().join("resolved.lock")).unwrap(),
        fs_err::read_to_string(context.home().join("resolved.lock")).unwrap(),
        "the same plugin pins and crate graph"
    );
}

#[test]
fn a_frozen_sync_without_a_fetch_names_the_missing_crates_and_points_to_fetch() {
    let context = TestContext::new();
    ok(output(
        context
            .scopectl()
            .arg("install")
            .arg(repo().join("fixtures/plugins/invert")),
    ));
    // The committed files on a machine whose cargo cache is empty.
    let fresh = TestContext::new();
    fs_err::create_dir_all(fresh.home()).unwrap();
    for file in ["plugins.toml", "resolved.lock"] {
        fs_err::copy(context.home().join(file), fresh.home().join(file)).unwrap();
    }
    let empty_cargo_home = fresh.temp.path().join("empty-cargo-home");
    fs_err::create_dir_all(&empty_cargo_home).unwrap();
    let out = output(
        fresh
            .scopectl()
            .args(["sync", "--frozen"])
            .env("CARGO_HOME", &empty_cargo_home),
    );
    scopectl_snapshot!(&fresh, "frozen_without_cargo_cache", &out);
    let said = stderr(&out);
    assert!(
        !said.contains("As a reminder"),
        "cargo's own offline note: {said}"
    );
    assert!(!fresh.home().join("current").exists());
}
