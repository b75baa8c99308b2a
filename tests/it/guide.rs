//! The author guide (`docs/guide.md`) as a reader follows it: its Rust
//! blocks are doctests of `scope-plugin-test`; here its shell blocks run
//! as written, and its example of one plugin depending on another is
//! written into two plugins made by `scopectl new`, installed, and then
//! broken as its error example is.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{output, repo, stderr, stdout, TestContext};

/// `bash -e` running `script` in `dir`, with this build's scopectl first
/// on `PATH` and the test's home as `SCOPE_HOME`.
#[allow(clippy::disallowed_methods)] // the test's own PATH, extended
fn shell(context: &TestContext, dir: &Path, script: &str) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_scopectl")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut command = Command::new("bash");
    command.arg("-ec").arg(script).current_dir(dir);
    support::scrub(&mut command, context.temp.path());
    command.env("PATH", path).env("SCOPE_HOME", context.home());
    output(&mut command)
}

#[test]
fn the_shell_blocks_run_as_written() {
    let guide = fs_err::read_to_string(repo().join("docs/guide.md")).unwrap();
    let context = TestContext::new();
    let first = block_after(&guide, "## A first plugin", "sh");
    let out = shell(&context, context.temp.path(), &first);
    assert!(out.status.success(), "{first}\n{}", stderr(&out));
    let video = fs_err::read(context.temp.path().join("out.y4m")).unwrap();
    assert_eq!(
        video.windows(6).filter(|w| w == b"FRAME\n").count(),
        60,
        "the first plugin's video"
    );
    let before_publishing = block_after(&guide, "## Publishing", "sh");
    let out = shell(
        &context,
        &context.temp.path().join("my-fx"),
        &before_publishing,
    );
    assert!(
        out.status.success(),
        "{before_publishing}\n{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("ok       a host built with it passes"),
        "{}",
        stdout(&out)
    );
}

/// The first fenced block of `language` after the heading `section`.
fn block_after(guide: &str, section: &str, language: &str) -> String {
    let at = guide
        .find(section)
        .unwrap_or_else(|| panic!("the guide has `{section}`"));
    let fence = format!("```{language}\n");
    let start = guide[at..].find(&fence).expect("a block") + at + fence.len();
    let end = guide[start..].find("```").expect("its end") + start;
    guide[start..end].to_owned()
}

#[test]
fn the_plugin_dependency_example_installs() {
    let guide = fs_err::read_to_string(repo().join("docs/guide.md")).unwrap();
    let dependencies = block_after(&guide, "## Depending on another plugin", "toml");
    assert!(
        dependencies.starts_with("[dependencies]\n") && dependencies.contains("vignette-fx"),
        "the example changed: {dependencies}"
    );
    let context = TestContext::new();
    support::new_plugin(&context, "vignette-fx");
    // edge-glow's dependencies become the guide's, and it uses the other
    // plugin's crate.
    let edge = support::new_plugin(&context, "edge-glow");
    let manifest = fs_err::read_to_string(edge.join("Cargo.toml")).unwrap();
    let (head, rest) = manifest.split_once("[dependencies]\n").unwrap();
    let (_, tail) = rest.split_once("\n\n").unwrap();
    fs_err::write(
        edge.join("Cargo.toml"),
        format!("{head}{dependencies}\n{tail}"),
    )
    .unwrap();
    let mut lib = fs_err::read_to_string(edge.join("src/lib.rs")).unwrap();
    lib.push_str(
        "\n/// The plugin this one builds on.\npub use vignette_fx::VignetteFx as Base;\n",
    );
    fs_err::write(edge.join("src/lib.rs"), lib).unwrap();

    let out = output(
        context
            .scopectl()
            .args(["install", "./vignette-fx", "./edge-glow"])
            .current_dir(context.temp.path()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list = output(context.scopectl().args(["list", "--json"]));
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let vignette = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "vignette-fx")
        .expect("vignette-fx is installed")
        .clone();
    assert_eq!(vignette["dependency_of"], serde_json::json!(["edge-glow"]));

    // The error example: edge-glow asks for a version vignette-fx is not.
    let manifest = fs_err::read_to_string(edge.join("Cargo.toml")).unwrap();
    fs_err::write(
        edge.join("Cargo.toml"),
        manifest.replace("vignette-fx = \"0.1\"", "vignette-fx = \"0.3\""),
    )
    .unwrap();
    let out = output(context.scopectl().arg("sync"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let expected = block_after(&guide, "the error names\nthe file to change", "text");
    assert_eq!(stderr(&out), expected);
}
