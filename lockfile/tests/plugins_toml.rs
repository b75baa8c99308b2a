//! `plugins.toml`: every form of the contract, edits that keep a user's
//! layout, and errors that point at the line.

use std::path::{Path, PathBuf};

use scope_lockfile::{GitReference, PluginSpec, PluginsToml};
use scope_name::PluginName;
use semver::VersionReq;

const CONTRACT_EXAMPLE: &str = r#"# My plugins.
[plugins]
scope-invert = "0.2"                                            # default registry
color-generator = { git = "https://example.org/me/color-generator", tag = "v1.0.0" }
my-fx = { path = "/home/me/src/my-fx" }                         # editable local plugin
acme-fx = { version = "^1.2", registry = "acme" }

[registries.acme]
index = "sparse+https://registry.example.org/index/"
"#;

fn parse(text: &str) -> Result<PluginsToml, String> {
    PluginsToml::parse(Path::new("/home/me/.scope/plugins.toml"), text).map_err(|e| e.to_string())
}

#[test]
fn reads_every_form_of_the_contract() {
    let file = parse(CONTRACT_EXAMPLE).unwrap();
    let plugins = file.plugins();
    assert_eq!(
        plugins["scope-invert"],
        PluginSpec::Registry {
            req: VersionReq::parse("0.2").unwrap(),
            registry: None
        }
    );
    assert_eq!(
        plugins["color-generator"],
        PluginSpec::Git {
            url: "https://example.org/me/color-generator".into(),
            reference: GitReference::Tag("v1.0.0".into())
        }
    );
    assert_eq!(
        plugins["my-fx"],
        PluginSpec::Path {
            path: PathBuf::from("/home/me/src/my-fx")
        }
    );
    assert_eq!(
        plugins["acme-fx"],
        PluginSpec::Registry {
            req: VersionReq::parse("^1.2").unwrap(),
            registry: Some("acme".into())
        }
    );
    assert_eq!(
        file.registries()["acme"],
        "sparse+https://registry.example.org/index/"
    );
}

#[test]
fn edits_keep_comments_order_and_layout() {
    let mut file = parse(CONTRACT_EXAMPLE).unwrap();
    file.set(
        &"scope_invert".parse().unwrap(),
        PluginSpec::Registry {
            req: VersionReq::parse("0.3").unwrap(),
            registry: None,
        },
    );
    file.set(
        &"new-fx".parse().unwrap(),
        PluginSpec::Git {
            url: "https://example.org/new".into(),
            reference: GitReference::Branch("main".into()),
        },
    );
    assert!(file.remove(&"my_fx".parse().unwrap()));
    assert!(!file.remove(&"never-there".parse().unwrap()));
    let text = file.to_string();
    let expected = r#"# My plugins.
[plugins]
scope-invert = "^0.3"                                            # default registry
color-generator = { git = "https://example.org/me/color-generator", tag = "v1.0.0" }
acme-fx = { version = "^1.2", registry = "acme" }
new-fx = { git = "https://example.org/new", branch = "main" }

[registries.acme]
index = "sparse+https://registry.example.org/index/"
"#;
    assert_eq!(text, expected);
    // And what was written reads back as what was set.
    let again = parse(&text).unwrap();
    assert_eq!(again.plugins(), file.plugins());
}

#[test]
fn a_syntax_error_names_the_file_line_and_column() {
    let err = parse("[plugins]\nscope-invert = \"0.2\nother = 1\n").unwrap_err();
    assert!(
        err.starts_with("/home/me/.scope/plugins.toml is not valid TOML:"),
        "{err}"
    );
    assert!(err.contains("line 2, column"), "{err}");
    assert!(
        err.contains("scope-invert = \"0.2"),
        "shows the offending text: {err}"
    );
}

#[test]
fn unknown_keys_are_refused_with_the_known_ones() {
    let err = parse("[plugins]\nfx = { version = \"1\", branchh = \"main\" }\n").unwrap_err();
    assert_eq!(
        err,
        "/home/me/.scope/plugins.toml:2:6: plugin `fx`: unknown key `branchh`; the known keys are `version`, `registry`, `git`, `branch`, `tag`, `rev`, `path`\n  fx = { version = \"1\", branchh = \"main\" }"
    );
    let err = parse("[plugin]\nfx = \"1\"\n").unwrap_err();
    assert!(err.starts_with("/home/me/.scope/plugins.toml:1:2: unknown key `plugin`; the known keys are `plugins`, `registries` and `allow`"), "{err}");
}

#[test]
fn contradictory_or_incomplete_entries_are_refused() {
    for (entry, expected) in [
        (
            "fx = { git = \"https://e.org/x\", path = \"/x\" }",
            "give `git` or `path`, not both",
        ),
        (
            "fx = { git = \"https://e.org/x\", tag = \"a\", rev = \"b\" }",
            "at most one of `branch`, `tag` and `rev`",
        ),
        ("fx = { tag = \"v1\" }", "`tag` needs `git`"),
        (
            "fx = { registry = \"nowhere\", version = \"1\" }",
            "names registry `nowhere`",
        ),
        (
            "fx = { path = \"/x\", version = \"1\" }",
            "a path plugin takes only `path`",
        ),
        ("fx = \"not a requirement\"", "is not a version requirement"),
        ("fx = 3", "must be a version requirement"),
        (
            "fx = \"1\"\nFX_ = \"1\"\nf_x = \"2\"\nf-x = \"2\"",
            "listed twice",
        ),
    ] {
        let err = parse(&format!("[plugins]\n{entry}\n")).unwrap_err();
        assert!(err.contains(expected), "{entry}: {err}");
    }
}

#[test]
fn grants_are_read_and_written_beside_the_plugins() {
    let text = "[plugins]\nfx = \"1\"\n\n[allow]\nfx = [\"net:connect=443\"]\n";
    let mut file = PluginsToml::parse(Path::new("/h/plugins.toml"), text).unwrap();
    let fx = PluginName::new("fx").unwrap();
    assert_eq!(file.grants()[&fx], ["net:connect=443"]);
    file.set_grants(&fx, &["net:connect=443".into(), "gpu".into()]);
    assert_eq!(
        file.to_string(),
        "[plugins]\nfx = \"1\"\n\n[allow]\nfx = [\"net:connect=443\", \"gpu\"]\n"
    );
    // Uninstalling a plugin drops its grants.
    file.remove(&fx);
    assert_eq!(file.to_string(), "[plugins]\n");
    let bad = PluginsToml::parse(Path::new("/h/plugins.toml"), "[allow]\nfx = \"gpu\"\n");
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("must be a list of capabilities"));
}
