//! `scopectl new`: the scaffold passes its own test and installs.

mod support;

use std::process::Command;

use support::{output, stderr, TestContext};

#[test]
fn the_scaffold_tests_green_and_installs() {
    let context = TestContext::new();
    let dir = context.temp.path().join("my-fx");
    let out = output(
        context
            .scopectl()
            .args(["new", "my-fx", "--path"])
            .arg(&dir),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut cargo_test = Command::new(env!("CARGO"));
    cargo_test
        .args(["test", "--offline", "-q"])
        .current_dir(&dir);
    support::scrub(&mut cargo_test, context.temp.path());
    let tested = output(&mut cargo_test);
    assert!(
        tested.status.success(),
        "cargo test in the scaffold:\n{}",
        stderr(&tested)
    );
    assert!(
        support::stdout(&tested).contains("1 passed"),
        "{}",
        support::stdout(&tested)
    );

    let installed = output(context.scopectl().arg("install").arg(&dir));
    assert!(installed.status.success(), "{}", stderr(&installed));
    let list = output(context.scopectl().args(["list", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        json["plugins"][0]["pipelines"],
        serde_json::json!(["my-fx"])
    );
}

#[test]
fn bad_names_and_occupied_directories_are_refused() {
    let context = TestContext::new();
    let out = output(context.scopectl().args(["new", "My Fx"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a plugin name"),
        "{}",
        stderr(&out)
    );
    let dir = context.temp.path().join("taken");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("file"), "x").unwrap();
    let out = output(context.scopectl().args(["new", "fx", "--path"]).arg(&dir));
    assert!(
        stderr(&out).contains("already exists and is not empty"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_next_step_installs_the_directory_and_scopes_own_names_are_refused() {
    let context = TestContext::new();
    let out = output(
        context
            .scopectl()
            .args(["new", "my-fx"])
            .current_dir(context.temp.path()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        support::stdout(&out),
        "",
        "the next steps are messages, on stderr"
    );
    // `scopectl install my-fx` would ask the registry; the directory it is.
    assert!(
        stderr(&out).contains("  scopectl install ./my-fx\n"),
        "{}",
        stderr(&out)
    );
    for reserved in ["scope-plugin-api", "scope_host", "scopectl"] {
        let out = output(context.scopectl().args(["new", reserved]));
        assert_eq!(out.status.code(), Some(1), "{reserved}");
        assert!(
            stderr(&out).contains("that name belongs to Scope itself"),
            "{reserved}: {}",
            stderr(&out)
        );
    }
}
