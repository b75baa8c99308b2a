//! `update` and `update --check` against the fixture registry and local
//! git repositories.

use crate::support;

use scope_test_support::{FixtureRegistry, Package};
use support::{output, repo, stderr, stdout, TestContext};

fn check(context: &TestContext) -> (Option<i32>, serde_json::Value) {
    let out = output(context.scopectl().args(["update", "--check", "--json"]));
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (out.status.code(), json)
}

fn row(json: &serde_json::Value, name: &str) -> serde_json::Value {
    json["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name}: {json}"))
}

fn installed_version(context: &TestContext, name: &str) -> String {
    let out = output(context.scopectl().args(["list", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    row(&json, name)["version"].as_str().unwrap().to_owned()
}

#[test]
fn registry_updates_are_found_applied_and_explained_when_out_of_reach() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("fx", "1.0.0").api("^0.1").publish(&server);
    Package::new("other", "1.0.0").api("^0.1").publish(&server);
    support::with_registry(&context, &server);
    let out = output(
        context
            .scopectl()
            .args(["install", "fx", "other", "--registry", "fixture"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(check(&context).0, Some(0), "nothing newer");

    Package::new("fx", "1.1.0").api("^0.1").publish(&server);
    Package::new("other", "1.1.0").api("^0.1").publish(&server);
    let (code, json) = check(&context);
    assert_eq!(code, Some(10));
    assert_eq!(json["version"], 1);
    let fx = row(&json, "fx");
    assert_eq!(
        (
            fx["installed"].as_str(),
            fx["newest_compatible"].as_str(),
            fx["update_available"].as_bool()
        ),
        (Some("1.0.0"), Some("1.1.0"), Some(true))
    );

    let dry = output(context.scopectl().args(["update", "fx", "--dry-run"]));
    assert!(
        stderr(&dry).starts_with("~ fx v1.0.0 -> v1.1.0\n"),
        "{}",
        stderr(&dry)
    );
    assert_eq!(stdout(&dry), "", "stdout carries data only");
    assert_eq!(
        installed_version(&context, "fx"),
        "1.0.0",
        "a dry run changes nothing"
    );

    let out = output(context.scopectl().args(["update", "fx"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(installed_version(&context, "fx"), "1.1.0");
    assert_eq!(
        installed_version(&context, "other"),
        "1.0.0",
        "update NAME moves NAME only"
    );

    let out = output(context.scopectl().arg("update"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        installed_version(&context, "other"),
        "1.1.0",
        "update with no names moves all"
    );

    Package::new("fx", "2.0.0").api("^0.2").publish(&server);
    let (code, json) = check(&context);
    assert_eq!(code, Some(0), "only an API-incompatible version is newer");
    let fx = row(&json, "fx");
    assert_eq!(fx["newest"], "2.0.0");
    assert_eq!(fx["update_available"], false);
    assert_eq!(
        fx["reason"],
        "fx 2.0.0 needs scope-plugin-api ^0.2; this host provides 0.1.0"
    );
}

#[test]
fn git_branches_tags_revisions_and_local_plugins() {
    let context = TestContext::new();
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    let first = upstream.commit("first");
    let out = output(
        context
            .scopectl()
            .args(["install", &upstream.url(), "--branch", "main"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let color = repo().join("fixtures/plugins/color-generator");
    let out = output(
        context
            .scopectl()
            .args(["install", color.to_str().unwrap()]),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let (code, json) = check(&context);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(
        row(&json, "color-generator")["update_available"],
        serde_json::Value::Null
    );

    upstream.write("NOTES", "second");
    let second = upstream.commit("second");
    let (code, json) = check(&context);
    assert_eq!(code, Some(10), "{json}");
    let git = row(&json, "scope-invert");
    assert_eq!(
        (git["installed"].as_str(), git["newest"].as_str()),
        (
            Some(first.to_string().as_str()),
            Some(second.to_string().as_str())
        )
    );

    let out = output(context.scopectl().args(["update", "scope-invert"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "~ scope-invert v0.2.0 ({} -> {})",
            &first.to_string()[..8],
            &second.to_string()[..8]
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(check(&context).0, Some(0));

    // Pinned to a revision: never moves.
    let pinned = TestContext::new();
    let out = output(
        pinned
            .scopectl()
            .args(["install", &format!("{}@{}", upstream.url(), first)]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, json) = check(&pinned);
    assert_eq!(code, Some(0));
    assert_eq!(
        row(&json, "scope-invert")["reason"],
        "pinned to a revision: it never moves"
    );
}

#[test]
fn a_failing_registry_fails_the_check_and_the_others_are_still_reported() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("fx", "1.0.0").api("^0.1").publish(&server);
    support::with_registry(&context, &server);
    assert!(support::install_from_fixture(&context, "fx")
        .status
        .success());
    let color = repo().join("fixtures/plugins/color-generator");
    assert!(output(
        context
            .scopectl()
            .args(["install", color.to_str().unwrap()])
    )
    .status
    .success());
    server.switches(|s| s.fail_next = 1000);
    let out = output(
        context
            .scopectl()
            .args(["update", "--check", "--json"])
            .env("SCOPE_HTTP_RETRIES", "0"),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        row(&json, "fx")["error"].as_str().unwrap().contains("500"),
        "{json}"
    );
    assert_eq!(
        row(&json, "color-generator")["update_available"],
        serde_json::Value::Null
    );
}

#[test]
fn a_tag_pinned_plugin_is_current_until_its_tag_moves() {
    let context = TestContext::new();
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    let first = upstream.commit("first");
    upstream.tag("v1", first);
    let out = output(
        context
            .scopectl()
            .args(["install", &upstream.url(), "--tag", "v1"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    upstream.write("NOTES", "later");
    let second = upstream.commit("second");
    assert_eq!(
        check(&context).0,
        Some(0),
        "new commits on a branch do not matter to a tag"
    );

    upstream.tag("v1", second);
    let (code, json) = check(&context);
    assert_eq!(code, Some(10));
    assert_eq!(
        row(&json, "scope-invert")["reason"],
        "tag `v1` moved upstream"
    );
    let out = output(context.scopectl().args(["update", "scope-invert"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&second.to_string()[..8]),
        "{}",
        stderr(&out)
    );
    assert_eq!(check(&context).0, Some(0));
}
