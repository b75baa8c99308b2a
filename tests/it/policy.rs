//! `policy.toml`: refusals before anything is fetched, downloaded or
//! compiled, each naming the rule's line; `policy check` for CI.

use crate::support;
use support::snapshot::scopectl_snapshot;

use scope_test_support::{FixtureRegistry, GitHttpServer, Package};
use support::{output, repo, stderr, stdout, HomeState, TestContext};

fn write_policy(context: &TestContext, text: &str) {
    fs_err::create_dir_all(context.home()).unwrap();
    fs_err::write(context.home().join("policy.toml"), text).unwrap();
}

#[test]
fn a_git_host_the_policy_does_not_allow_is_refused_before_any_request() {
    let context = TestContext::new();
    let scratch = tempfile::tempdir().unwrap();
    support::invert_repo(&scratch.path().join("invert")).commit("invert");
    let server = GitHttpServer::start(scratch.path());
    write_policy(
        &context,
        "# Plugins from our forge only.\n[allow]\ngit = [\"https://git.example.org/acme/*\"]\n",
    );
    let before = HomeState::of(&context.home());
    let refused = output(context.scopectl().args(["install", &server.url("invert")]));
    scopectl_snapshot!(&context, "a_git_host_not_allowed", &refused);
    assert_eq!(server.requests(), 0, "the git server was asked nothing");
    assert_eq!(HomeState::of(&context.home()), before);

    // A dry run shows what the policy would refuse, and changes nothing.
    let dry = output(
        context
            .scopectl()
            .args(["install", "--dry-run", &server.url("invert")]),
    );
    assert!(
        stderr(&dry).contains("warning: the policy would refuse this:"),
        "{}",
        stderr(&dry)
    );
    assert_eq!(HomeState::of(&context.home()), before);
}

#[test]
fn a_licence_outside_the_list_deep_in_the_host_is_refused_before_compiling() {
    let context = TestContext::new();
    write_policy(&context, "[allow]\nlicenses = [\"Apache-2.0\"]\n");
    let before = HomeState::of(&context.home());
    let refused = output(
        context
            .scopectl()
            .arg("install")
            .arg(repo().join("fixtures/plugins/invert")),
    );
    // lexopt (MIT alone) is the host runtime's argument parser, two levels
    // down; libc (MIT OR Apache-2.0) passes.
    scopectl_snapshot!(&context, "a_licence_not_allowed", &refused);
    assert_eq!(HomeState::of(&context.home()), before);

    // An `OR` that the list covers passes.
    write_policy(
        &context,
        "[allow]\nlicenses = [\"MIT\", \"Apache-2.0\"]\npath = true\n",
    );
    let out = output(
        context
            .scopectl()
            .arg("install")
            .arg(repo().join("fixtures/plugins/invert")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let check = output(context.scopectl().args(["policy", "check", "--json"]));
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["passed"], true, "{report}");
}

#[test]
fn versions_younger_than_the_minimum_age_are_refused_and_policy_check_reports_for_ci() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("fx", "1.0.0")
        .api("^0.1")
        .published_at("2020-01-01T00:00:00Z")
        .publish(&server);
    support::with_registry(&context, &server);
    let installed = support::install_from_fixture(&context, "fx");
    assert!(installed.status.success(), "{}", stderr(&installed));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let yesterday = scopectl::time::rfc3339(now - 86_400);
    Package::new("fx", "1.1.0")
        .api("^0.1")
        .published_at(&yesterday)
        .publish(&server);
    write_policy(
        &context,
        "[allow]\nregistries = [\"fixture\"]\nmin-release-age = \"7d\"\n",
    );
    let before = HomeState::of(&context.home());
    let refused = output(context.scopectl().args(["update", "fx"]));
    scopectl_snapshot!(&context, "a_version_too_new", &refused);
    assert_eq!(HomeState::of(&context.home()), before);

    // What is locked (1.0.0, from 2020) passes.
    let check = output(context.scopectl().args(["policy", "check", "--json"]));
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));

    // Yanked after it was locked: refused even so, when the policy says.
    server.yank("fx", "1.0.0");
    write_policy(&context, "[allow]\nyanked = false\n");
    let check = output(context.scopectl().args(["policy", "check", "--json"]));
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["findings"][0]["rule"], "allow.yanked", "{report}");
    let sync = output(context.scopectl().arg("sync"));
    assert_eq!(sync.status.code(), Some(1), "{}", stderr(&sync));
    assert!(
        stderr(&sync).contains("policy.toml:2: allow.yanked: plugin `fx v1.0.0` is yanked"),
        "{}",
        stderr(&sync)
    );
    assert_eq!(HomeState::of(&context.home()), before);

    // CI form: a rule the lock breaks, exit 1, the findings as JSON.
    write_policy(&context, "[allow]\n\nregistries = [\"acme\"]\n");
    let check = output(context.scopectl().args(["policy", "check", "--json"]));
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["passed"], false, "{report}");
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "allow.registries", "{report}");
    assert_eq!(finding["line"], 3, "{report}");
    assert_eq!(finding["subject"], "plugin `fx v1.0.0`", "{report}");
    let text = output(context.scopectl().args(["policy", "check"]));
    scopectl_snapshot!(&context, "policy_check_in_ci", &text);
}

#[test]
fn a_policy_that_does_not_read_is_refused_with_its_line() {
    let context = TestContext::new();
    write_policy(&context, "[allow]\npath = true\nlicences = [\"MIT\"]\n");
    let out = output(
        context
            .scopectl()
            .arg("install")
            .arg(repo().join("fixtures/plugins/invert")),
    );
    scopectl_snapshot!(&context, "a_misspelt_rule", &out);
}
