//! Installing plugins from git repositories made on the spot.

use crate::support;
use support::snapshot::scopectl_snapshot;

use support::{output, stderr, TestContext};

fn lock_of(context: &TestContext) -> scope_lockfile::Lockfile {
    let path = context.home().join("resolved.lock");
    scope_lockfile::Lockfile::parse(&path, &fs_err::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn a_tag_is_pinned_to_its_commit_and_stays_there() {
    let context = TestContext::new();
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    let first = upstream.commit("first");
    upstream.tag("v1", first);
    let spec = format!("{}@v1", upstream.url());
    let out = output(context.scopectl().args(["install", &spec]));
    assert!(out.status.success(), "{}", stderr(&out));
    let pin = &lock_of(&context).plugins[0];
    assert_eq!(pin.name.as_str(), "scope-invert");
    // `URL@v1` names a tag, so it is recorded as one, as `--tag v1` would be.
    let plugins_toml = fs_err::read_to_string(context.home().join("plugins.toml")).unwrap();
    assert!(plugins_toml.contains("tag = \"v1\""), "{plugins_toml}");
    assert_eq!(
        pin.source,
        scope_lockfile::PinSource::Git {
            url: upstream.url(),
            reference: scope_lockfile::GitReference::Tag("v1".into()),
            commit: first.to_string()
        }
    );

    // Upstream moves the tag; the installed plugin stays at its locked commit.
    upstream.write("README", "moved");
    let second = upstream.commit("second");
    upstream.tag("v1", second);
    let again = output(context.scopectl().args(["install", &spec]));
    assert!(again.status.success(), "{}", stderr(&again));
    scopectl_snapshot!(&context, "a_moved_tag_changes_nothing", &again);
    assert!(
        matches!(&lock_of(&context).plugins[0].source, scope_lockfile::PinSource::Git { commit, .. } if *commit == first.to_string())
    );
}

#[test]
fn a_branch_flag_records_the_branch_and_its_tip() {
    let context = TestContext::new();
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    upstream.commit("first");
    upstream.write("NOTES", "more");
    let tip = upstream.commit("second");
    let out = output(
        context
            .scopectl()
            .args(["install", &upstream.url(), "--branch", "main"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let toml = fs_err::read_to_string(context.home().join("plugins.toml")).unwrap();
    assert!(
        toml.contains(&format!(
            "scope-invert = {{ git = \"{}\", branch = \"main\" }}",
            upstream.url()
        )),
        "{toml}"
    );
    assert!(
        matches!(&lock_of(&context).plugins[0].source, scope_lockfile::PinSource::Git { commit, reference, .. } if *commit == tip.to_string() && reference.lock_text() == "branch=main")
    );
    let list = output(context.scopectl().args(["list", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        json["plugins"][0]["source"],
        format!("git+{}#{tip}", upstream.url())
    );
    assert_eq!(json["plugins"][0]["editable"], false);
}

#[test]
fn a_missing_revision_fails_and_changes_nothing() {
    let context = TestContext::new();
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    upstream.commit("first");
    let out = output(
        context
            .scopectl()
            .args(["install", &format!("{}@no-such-tag", upstream.url())]),
    );
    scopectl_snapshot!(&context, "a_missing_revision", &out);
    assert!(!context.home().join("plugins.toml").exists());
    assert!(!context.home().join("current").exists());
}
