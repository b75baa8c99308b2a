//! `scopectl check`: would a plugin crate install? A scratch host built
//! with it, its self-check, its API requirement, its metadata and its
//! package.

use crate::support;

use support::snapshot::redact;
use support::{new_plugin, output, stderr, stdout, TestContext};

/// `check`'s findings (stdout), redacted, as the snapshot `name`.
fn findings_snapshot(context: &TestContext, name: &str, out: &std::process::Output) {
    insta::assert_snapshot!(name, redact(context, &stdout(out)));
}

#[test]
fn a_new_plugin_passes_and_says_what_was_checked() {
    let context = TestContext::new();
    let dir = new_plugin(&context, "fx");
    let out = output(context.scopectl().arg("check").arg(&dir));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    findings_snapshot(&context, "a_new_plugin", &out);
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
    findings_snapshot(&context, "a_bad_default", &out);

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
    findings_snapshot(&context, "an_api_this_sdk_lacks", &out);
}

#[test]
fn a_file_the_package_leaves_out_and_a_path_dependency_without_a_version_fail() {
    let context = TestContext::new();
    let dir = new_plugin(&context, "fx");
    let helper = context.temp.path().join("helper");
    fs_err::create_dir_all(helper.join("src")).unwrap();
    fs_err::write(
        helper.join("Cargo.toml"),
        "[package]\nname = \"helper\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    fs_err::write(helper.join("src/lib.rs"), "pub const GAIN: u8 = 2;\n").unwrap();
    fs_err::create_dir_all(dir.join("data")).unwrap();
    fs_err::write(dir.join("data/lut.bin"), [0u8, 1, 2]).unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let text = text
        .replacen(
            "license = ",
            "exclude = [\"data\"]\nrepository = \"https://example.invalid/fx\"\nlicense = ",
            1,
        )
        .replacen(
            "scope-plugin-api = \"0.1\"",
            "scope-plugin-api = \"0.1\"\nhelper = { path = \"../helper\" }",
            1,
        );
    fs_err::write(&manifest, text).unwrap();
    let lib = dir.join("src/lib.rs");
    let mut source = fs_err::read_to_string(&lib).unwrap();
    source.push_str(
        "\npub static LUT: &[u8] = include_bytes!(\"../data/lut.bin\");\npub const GAIN: u8 = helper::GAIN;\n",
    );
    fs_err::write(&lib, source).unwrap();

    let out = output(context.scopectl().arg("check").arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Everything else is still checked: the host builds with it.
    findings_snapshot(&context, "a_left_out_file_and_a_path_dependency", &out);
}
