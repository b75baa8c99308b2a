//! The package-manager commands on local plugins, driving the real binary:
//! installs, reinstall no-ops, uninstall and its refusal, rollback, sync
//! under --locked, failures that change nothing, crashes at every phase,
//! and two commands at once.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::snapshot::scopectl_snapshot;
use support::{output, repo, stderr, stdout, TestContext};

fn fixture(path: &str) -> String {
    repo().join(path).display().to_string()
}

fn invert() -> String {
    fixture("fixtures/plugins/invert")
}

fn install(context: &TestContext, specs: &[&str]) -> Output {
    output(context.scopectl().arg("install").args(specs))
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn install_list_reinstall_and_a_plugin_that_depends_on_another() {
    let context = TestContext::new();
    let home = context.home();
    ok(install(&context, &[&invert()]));
    let lock = fs_err::read_to_string(home.join("resolved.lock")).unwrap();
    assert!(
        lock.contains(&format!("source = \"path+{}\"", invert())),
        "{lock}"
    );

    let before = support::HomeState::of(&home);
    let again = ok(install(&context, &[&invert()]));
    scopectl_snapshot!(&context, "reinstall", &again);
    assert_eq!(
        support::HomeState::of(&home),
        before,
        "a reinstall is a no-op"
    );
    assert!(!home.join("generations/2").exists());

    ok(install(
        &context,
        &[&fixture("fixtures/test-plugins/invert-twice")],
    ));
    let list = json(&ok(output(context.scopectl().args(["list", "--json"]))));
    assert_eq!(list["version"], 1);
    let plugins = list["plugins"].as_array().unwrap();
    let row = |name: &str| plugins.iter().find(|p| p["name"] == name).unwrap().clone();
    assert_eq!(
        row("scope-invert")["dependency_of"],
        serde_json::json!(["invert-twice"])
    );
    assert_eq!(
        row("scope-invert")["pipelines"],
        serde_json::json!(["invert"])
    );
    assert_eq!(row("invert-twice")["editable"], true);

    let pipelines = json(&ok(output(
        context.scopectl().args(["pipelines", "--json"]),
    )));
    let ids: Vec<&str> = pipelines["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["invert-twice", "invert"],
        "in the order of the plugins' names"
    );

    let history = json(&ok(output(context.scopectl().args(["history", "--json"]))));
    let commands: Vec<&str> = history["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands.len(), 2);
    assert!(commands[1].starts_with("scopectl install "), "{commands:?}");
}

#[test]
fn uninstall_refuses_a_plugin_another_depends_on_then_removes_both() {
    let context = TestContext::new();
    let home = context.home();
    ok(install(
        &context,
        &[&invert(), &fixture("fixtures/test-plugins/invert-twice")],
    ));
    let before = support::HomeState::of(&home);
    let refused = output(context.scopectl().args(["uninstall", "scope-invert"]));
    scopectl_snapshot!(&context, "uninstall_of_a_dependency", &refused);
    assert_eq!(support::HomeState::of(&home), before);
    ok(output(context.scopectl().args([
        "uninstall",
        "invert-twice",
        "scope-invert",
    ])));
    let list = json(&ok(output(context.scopectl().args(["list", "--json"]))));
    assert_eq!(list["plugins"], serde_json::json!([]));
}

#[test]
fn rollback_restores_the_previous_host_byte_for_byte() {
    let context = TestContext::new();
    let home = context.home();
    ok(install(&context, &[&invert()]));
    let first = support::HomeState::of(&home);
    ok(install(
        &context,
        &[&fixture("fixtures/plugins/color-generator")],
    ));
    assert_ne!(support::HomeState::of(&home), first);
    ok(output(
        context
            .scopectl()
            .arg("rollback")
            .env("CARGO", "/bin/false"),
    ));
    assert_eq!(
        support::HomeState::of(&home),
        first,
        "all four pieces are back, without cargo"
    );
}

#[test]
fn sync_locked_reproduces_a_lock_on_a_fresh_home_and_refuses_a_change() {
    let context = TestContext::new();
    ok(install(&context, &[&invert()]));
    let fresh = TestContext::new();
    fs_err::create_dir_all(fresh.home()).unwrap();
    for file in ["plugins.toml", "resolved.lock"] {
        fs_err::copy(context.home().join(file), fresh.home().join(file)).unwrap();
    }
    ok(output(fresh.scopectl().args(["sync", "--locked"])));
    assert_eq!(
        fs_err::read(fresh.home().join("resolved.lock")).unwrap(),
        fs_err::read(context.home().join("resolved.lock")).unwrap(),
        "the same lock, byte for byte"
    );
    let again = ok(output(fresh.scopectl().arg("sync")));
    scopectl_snapshot!(&fresh, "sync_after_sync_locked", &again);

    let mut toml = fs_err::read_to_string(fresh.home().join("plugins.toml")).unwrap();
    toml.push_str(&format!(
        "color-generator = {{ path = \"{}\" }}\n",
        fixture("fixtures/plugins/color-generator")
    ));
    fs_err::write(fresh.home().join("plugins.toml"), &toml).unwrap();
    let before = support::HomeState::of(&fresh.home());
    let refused = output(fresh.scopectl().args(["sync", "--locked"]));
    scopectl_snapshot!(&fresh, "sync_locked_that_would_change", &refused);
    assert_eq!(support::HomeState::of(&fresh.home()), before);
}

#[test]
fn every_failure_exits_1_and_changes_nothing() {
    let context = TestContext::new();
    let home = context.home();
    ok(install(&context, &[&invert()]));
    let before = support::HomeState::of(&home);
    for name in [
        "no-such-plugin",
        "broken-plugins/not-a-plugin",
        "broken-plugins/does-not-compile",
        "test-plugins/register-panics",
        "test-plugins/conflicts-with-invert",
    ] {
        let spec = fixture(&format!("fixtures/{name}"));
        let out = install(&context, &[&spec]);
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", stderr(&out));
        let snapshot = format!("refused_{}", name.rsplit('/').next().unwrap());
        let out = support::snapshot::without_compiler_diagnostics(&out);
        scopectl_snapshot!(&context, snapshot.as_str(), &out);
        assert_eq!(
            support::HomeState::of(&home),
            before,
            "{spec}: the four pieces are unchanged"
        );
    }
    let usage = install(&context, &["not a spec!"]);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(support::HomeState::of(&home), before);
}

#[test]
fn a_crash_at_any_phase_leaves_the_old_state_or_the_complete_new_one() {
    let phases = [
        ("after-resolve", false),
        ("after-build", false),
        ("after-probe", false),
        ("before-stage", false),
        ("after-stage", false),
        ("before-switch", false),
        ("after-switch", true),
    ];
    for (phase, switched) in phases {
        let context = TestContext::new();
        let home = context.home();
        ok(install(&context, &[&invert()]));
        let before = support::HomeState::of(&home);
        let crashed = output(
            context
                .scopectl()
                .args(["install", &fixture("fixtures/plugins/color-generator")])
                .env("SCOPE_FAILPOINT", phase),
        );
        assert!(
            !crashed.status.success(),
            "{phase}: the process was stopped"
        );
        if switched {
            assert_eq!(
                fs_err::read_link(home.join("current")).unwrap(),
                Path::new("generations/2"),
                "{phase}"
            );
        } else {
            assert_eq!(
                support::HomeState::of(&home),
                before,
                "{phase}: nothing a user sees changed"
            );
            let history = json(&ok(output(context.scopectl().args(["history", "--json"]))));
            let listed = history["generations"].as_array().unwrap().len();
            assert_eq!(listed, 1, "{phase}: readers see no half-made generation");
        }
        // The next command cleans up, and works.
        let next = ok(install(
            &context,
            &[&fixture("fixtures/plugins/color-generator")],
        ));
        let plugins = json(&ok(output(context.scopectl().args(["list", "--json"]))))["plugins"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(plugins, 2, "{phase}: {}", stderr(&next));
        let toml = fs_err::read_to_string(home.join("plugins.toml")).unwrap();
        let current = fs_err::read_link(home.join("current")).unwrap();
        let generation_toml =
            fs_err::read_to_string(home.join(&current).join("plugins.toml")).unwrap();
        assert_eq!(
            toml, generation_toml,
            "{phase}: plugins.toml matches the active generation"
        );
        let leftovers: Vec<String> = fs_err::read_dir(home.join("generations"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{phase}: {leftovers:?}");
        assert!(!home.join(".transaction").exists(), "{phase}");
    }
}

#[test]
fn two_installs_at_once_both_land_one_after_the_other() {
    let context = TestContext::new();
    ok(install(&context, &[&invert()]));
    let mut first = context.scopectl();
    first.args(["install", &fixture("fixtures/plugins/color-generator")]);
    let mut second = context.scopectl();
    second.args(["install", &fixture("fixtures/plugins/temporal-blend")]);
    let a = std::thread::spawn(move || first.output().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(50));
    let b = std::thread::spawn(move || second.output().unwrap());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let (a, b) = (ok(a), ok(b));
    let blocked = [&a, &b]
        .iter()
        .any(|o| stderr(o).contains("Blocking: waiting for lock on"));
    assert!(blocked, "one waited:\n{}\n{}", stderr(&a), stderr(&b));
    let plugins = json(&ok(output(context.scopectl().args(["list", "--json"]))))["plugins"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(plugins, 3, "both landed");
}

#[test]
fn no_build_records_the_change_and_sync_builds_it() {
    let context = TestContext::new();
    let home = context.home();
    ok(install(&context, &[&invert()]));
    let current = fs_err::read_link(home.join("current")).unwrap();
    let host = fs_err::read(home.join("bin/scope-host")).unwrap();
    let out = ok(output(context.scopectl().args([
        "install",
        "--no-build",
        &fixture("fixtures/plugins/color-generator"),
    ])));
    scopectl_snapshot!(&context, "install_no_build", &out);
    assert!(fs_err::read_to_string(home.join("plugins.toml"))
        .unwrap()
        .contains("color-generator"));
    assert!(fs_err::read_to_string(home.join("resolved.lock"))
        .unwrap()
        .contains("name = \"color-generator\""));
    assert_eq!(
        fs_err::read_link(home.join("current")).unwrap(),
        current,
        "no generation was made"
    );
    assert_eq!(fs_err::read(home.join("bin/scope-host")).unwrap(), host);

    ok(output(context.scopectl().args(["sync", "--locked"])));
    let list = json(&ok(output(context.scopectl().args(["list", "--json"]))));
    assert_eq!(list["plugins"].as_array().unwrap().len(), 2);
    let lock = fs_err::read_to_string(home.join("resolved.lock")).unwrap();
    assert!(
        lock.contains("[[crate]]"),
        "the build filled in the crate graph"
    );
}

#[test]
fn why_names_who_required_a_plugin_and_why_this_version() {
    let context = TestContext::new();
    ok(install(
        &context,
        &[&invert(), &fixture("fixtures/test-plugins/invert-twice")],
    ));
    let out = ok(output(context.scopectl().args(["why", "scope_invert"])));
    let text = stdout(&out);
    assert!(text.starts_with("scope-invert v0.2.0\n"), "{text}");
    assert!(
        text.contains(&format!(
            "  you asked for it in plugins.toml: {}\n",
            invert()
        )),
        "{text}"
    );
    assert!(
        text.contains("  invert-twice v0.1.0 depends on it: ^0.2\n"),
        "{text}"
    );
    assert!(
        text.contains("  this version: it is the newest version that can be chosen"),
        "{text}"
    );
    let missing = output(context.scopectl().args(["why", "nothing"]));
    scopectl_snapshot!(&context, "why_of_what_is_not_installed", &missing);
}

/// A copy of the invert plugin that a test edits: its directory and source.
fn editable_invert(context: &TestContext) -> (PathBuf, String) {
    let dir = context.temp.path().join("my-invert");
    fs_err::create_dir_all(dir.join("src")).unwrap();
    let manifest =
        fs_err::read_to_string(repo().join("fixtures/plugins/invert/Cargo.toml")).unwrap();
    fs_err::write(dir.join("Cargo.toml"), format!("{manifest}\n[workspace]\n")).unwrap();
    let source = fs_err::read_to_string(repo().join("fixtures/plugins/invert/src/lib.rs")).unwrap();
    fs_err::write(dir.join("src/lib.rs"), &source).unwrap();
    (dir, source)
}

#[test]
fn reload_rebuilds_an_edited_local_plugin_and_refuses_others() {
    let context = TestContext::new();
    let home = context.home();
    let (dir, source) = editable_invert(&context);
    ok(install(&context, &[dir.to_str().unwrap()]));

    let description = |home: &Path| {
        let out = output(
            std::process::Command::new(home.join("bin/scope-host")).args(["pipelines", "--json"]),
        );
        json(&out)["pipelines"][0]["description"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        description(&home),
        "Inverts the colors of input video frames"
    );
    fs_err::write(
        dir.join("src/lib.rs"),
        source.replace(
            "Inverts the colors of input video frames",
            "Edited just now",
        ),
    )
    .unwrap();
    let out = ok(output(context.scopectl().args(["reload", "scope-invert"])));
    assert!(
        stderr(&out).contains("Activated generation 2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(description(&home), "Edited just now");

    // Nothing edited since: the rebuilt host is the same bytes, so no
    // generation, unless asked for.
    for again in [vec!["reload", "scope-invert"], vec!["build"]] {
        let out = ok(output(context.scopectl().args(&again)));
        assert!(
            stderr(&out).contains("byte-identical to generation 2's; no new generation"),
            "{again:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            fs_err::read_link(home.join("current")).unwrap(),
            Path::new("generations/2")
        );
    }
    let forced = ok(output(context.scopectl().args(["build", "--force"])));
    assert!(
        stderr(&forced).contains("Activated generation 3"),
        "{}",
        stderr(&forced)
    );

    let mut toml = fs_err::read_to_string(home.join("plugins.toml")).unwrap();
    toml.push_str("from-registry = \"1\"\n");
    fs_err::write(home.join("plugins.toml"), toml).unwrap();
    let refused = output(context.scopectl().args(["reload", "from-registry"]));
    scopectl_snapshot!(&context, "reload_of_a_registry_plugin", &refused);
}

#[test]
fn an_edited_editable_plugin_is_noticed_and_sync_rebuilds_it() {
    let context = TestContext::new();
    let (dir, source) = editable_invert(&context);
    ok(install(&context, &[dir.to_str().unwrap()]));
    let fresh = ok(output(context.scopectl().arg("sync")));
    scopectl_snapshot!(&context, "sync_of_an_unedited_plugin", &fresh);

    fs_err::write(dir.join("src/lib.rs"), format!("{source}\n// edited\n")).unwrap();
    let list = json(&ok(output(context.scopectl().args(["list", "--json"]))));
    assert_eq!(list["plugins"][0]["edited"], true, "{list}");
    let doctor = output(context.scopectl().arg("doctor"));
    assert!(
        stdout(&doctor).contains("plugin `scope-invert` changed since generation 1 was built"),
        "{}",
        stdout(&doctor)
    );
    // `install` of the same directory and `sync` both see the edit.
    let synced = ok(install(&context, &[dir.to_str().unwrap()]));
    scopectl_snapshot!(&context, "an_edited_plugin_installed_again", &synced);
    let list = json(&ok(output(context.scopectl().args(["list", "--json"]))));
    assert_eq!(list["plugins"][0]["edited"], false);
    let again = ok(output(context.scopectl().arg("sync")));
    scopectl_snapshot!(&context, "sync_after_the_edit_is_built", &again);
}
