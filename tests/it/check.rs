//! `scopectl check`: would a plugin crate install? A scratch host built
//! with it, its self-check, its API requirement and its metadata.

use crate::support;

use support::{output, stderr, stdout, TestContext};

/// `scopectl new NAME` in the test's scratch directory; its path.
fn new_plugin(context: &TestContext, name: &str) -> std::path::PathBuf {
    let out = output(
        context
            .scopectl()
            .args(["new", name])
            .current_dir(context.temp.path()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    context.temp.path().join(name)
}

#[test]
fn a_new_plugin_passes_and_says_what_was_checked() {
    let context = TestContext::new();
    let dir = new_plugin(&context, "fx");
    let out = output(context.scopectl().arg("check").arg(&dir));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("ok       its requirement scope-plugin-api ^0.1 accepts this scopectl's SDK"),
        "{said}"
    );
    assert!(
        said.contains("ok       a host built with it passes its self-check and registers fx"),
        "{said}"
    );
    assert!(
        said.contains("warning  Cargo.toml has no `repository`"),
        "{said}"
    );
    assert!(!context.home().exists(), "no home is made");
    let json = output(context.scopectl().args(["check", "--json"]).arg(&dir));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["plugin"], "fx");
    assert_eq!(report["findings"][0]["level"], "ok");
}

#[test]
fn a_bad_default_and_an_api_this_sdk_lacks_fail_naming_what_to_change() {
    let context = TestContext::new();
    let dir = new_plugin(&context, "fx");
    let lib = dir.join("src/lib.rs");
    let source = fs_err::read_to_string(&lib).unwrap();
    fs_err::write(
        &lib,
        source.replace(
            "Param::float(\"amount\", 0.2)",
            "Param::float(\"amount\", 7.0)",
        ),
    )
    .unwrap();
    let out = output(context.scopectl().arg("check").arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("error    registration: pipeline `fx` is invalid: parameter `amount`"),
        "{said}"
    );

    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replacen(
            "scope-plugin-api = \"0.1\"",
            "scope-plugin-api = \"0.9\"",
            1,
        ),
    )
    .unwrap();
    let out = output(context.scopectl().arg("check").arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "error    its requirement scope-plugin-api ^0.9 (Cargo.toml) does not accept this scopectl's SDK (0.1.0)"
        ),
        "{}",
        stdout(&out)
    );
}
