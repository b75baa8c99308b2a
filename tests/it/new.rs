//! `scopectl new`: the scaffold passes its own test and installs.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::snapshot::scopectl_snapshot;
use support::{output, stderr, TestContext};

/// Every file under `dir` but cargo's output, as text.
fn files_outside_target(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name() == Some("target".as_ref()) {
            continue;
        }
        if path.is_dir() {
            found.extend(files_outside_target(&path));
        } else {
            found.push((path.clone(), fs_err::read_to_string(&path).unwrap()));
        }
    }
    found
}

#[test]
fn the_scaffold_names_no_machine_path_tests_green_anywhere_and_installs() {
    let context = TestContext::new();
    let out = output(
        context
            .scopectl()
            .args(["new", "my-fx"])
            .current_dir(context.temp.path()),
    );
    // `scopectl install my-fx` would ask the registry; the directory it is.
    scopectl_snapshot!(&context, "new_plugin_next_steps", &out);
    let dir = context.temp.path().join("my-fx");
    let machine = context.temp.path().to_string_lossy().into_owned();
    let generated = files_outside_target(&dir);
    assert_eq!(generated.len(), 3, "{generated:?}");
    for (path, text) in &generated {
        assert!(
            !text.contains(&machine),
            "{} names a machine path:\n{text}",
            path.display()
        );
        assert!(
            !text.contains("/sdk"),
            "{} names an SDK copy:\n{text}",
            path.display()
        );
    }

    // A teammate's machine: an empty HOME, no scopectl home, only the
    // plugin's repository (copied elsewhere) and scopectl.
    let teammate = tempfile::tempdir().unwrap();
    let checkout = teammate.path().join("checkout/my-fx");
    for (path, text) in &generated {
        let target = checkout.join(path.strip_prefix(&dir).unwrap());
        fs_err::create_dir_all(target.parent().unwrap()).unwrap();
        fs_err::write(target, text).unwrap();
    }
    fs_err::create_dir_all(teammate.path().join(".cargo")).unwrap();
    fs_err::write(
        teammate.path().join(".cargo/config.toml"),
        "[net]\noffline = true\n",
    )
    .unwrap();
    let mut test = Command::new(env!("CARGO_BIN_EXE_scopectl"));
    test.args(["test", "--", "-q"]).current_dir(&checkout);
    support::scrub(&mut test, teammate.path());
    test.env_remove("CARGO_TARGET_DIR");
    let tested = output(&mut test);
    assert!(
        tested.status.success(),
        "scopectl test in the scaffold:\n{}",
        stderr(&tested)
    );
    assert!(
        support::stdout(&tested).contains("1 passed"),
        "{}",
        support::stdout(&tested)
    );
    assert!(!teammate.path().join(".scope").exists(), "no home was made");
    for (path, text) in files_outside_target(&checkout) {
        let original = generated
            .iter()
            .find(|(p, _)| p.strip_prefix(&dir) == path.strip_prefix(&checkout));
        if let Some((_, before)) = original {
            assert_eq!(&text, before, "{} changed", path.display());
        } else {
            // cargo's own lock file; it names no path either.
            assert_eq!(path.file_name(), Some("Cargo.lock".as_ref()));
            assert!(
                !text.contains(&teammate.path().to_string_lossy().into_owned()),
                "{text}"
            );
        }
    }

    // A failing test fails `scopectl test` with cargo's status.
    let lib = checkout.join("src/lib.rs");
    let broken = fs_err::read_to_string(&lib)
        .unwrap()
        .replace("[128, 178, 255]", "[0, 0, 0]");
    fs_err::write(&lib, broken).unwrap();
    let failed = output(&mut test);
    assert_eq!(failed.status.code(), Some(101), "{}", stderr(&failed));

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
    scopectl_snapshot!(&context, "new_with_a_bad_name", &out);
    let dir = context.temp.path().join("taken");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("file"), "x").unwrap();
    let out = output(context.scopectl().args(["new", "fx", "--path"]).arg(&dir));
    scopectl_snapshot!(&context, "new_in_an_occupied_directory", &out);
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
    for reserved in ["scope-plugin-api", "scope_host", "scopectl"] {
        let out = output(context.scopectl().args(["new", reserved]));
        scopectl_snapshot!(&context, format!("new_{reserved}"), &out);
    }
}
