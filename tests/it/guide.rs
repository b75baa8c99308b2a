//! The author guide (`docs/guide.md`) as a reader follows it: its Rust
//! blocks are doctests of `scope-plugin-test`; here its example of one
//! plugin depending on another is written into two plugins made by
//! `scopectl new` and installed.

use crate::support;

use support::{output, repo, stderr, TestContext};

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
    for name in ["vignette-fx", "edge-glow"] {
        let out = output(
            context
                .scopectl()
                .args(["new", name])
                .current_dir(context.temp.path()),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // edge-glow's dependencies become the guide's, and it uses the other
    // plugin's crate.
    let edge = context.temp.path().join("edge-glow");
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
}
