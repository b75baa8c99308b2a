//! The sources that travel inside the `scopectl` binary: the plugin SDK, the
//! host runtime and the example plugins. They are written out on demand,
//! with their manifests made standalone (no workspace inheritance), into a
//! directory named by a hash of their content, so every home and every build
//! that shares a target directory also shares their compiled artifacts.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use toml_edit::{DocumentMut, Item, Table};

use crate::fsx;

mod files {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Where the SDK was written: the `scope-plugin-api` and `scope-host` crates.
#[derive(Debug, Clone)]
pub struct Sdk {
    /// The `scope-plugin-api` crate.
    pub plugin_api: PathBuf,
    /// The `scope-host` runtime crate.
    pub host: PathBuf,
    /// The `scope-plugin-test` harness crate.
    pub plugin_test: PathBuf,
}

/// Writes the SDK below `parent` (once per content hash) and returns its paths.
pub fn write_sdk(parent: &Path) -> Result<Sdk> {
    let dir = parent.join(format!("sdk-{}", content_hash(files::SDK)));
    write_tree(&dir, files::SDK)?;
    Ok(Sdk {
        plugin_api: dir.join("plugin-api"),
        host: dir.join("host"),
        plugin_test: dir.join("plugin-test"),
    })
}

/// A cargo command run in the plugin crate `dir` with the SDK this
/// scopectl carries (and its test harness, `scope-plugin-test`) patched in
/// through `--config`, so the plugin's repository names no path of any
/// machine. The SDK is written where the plugin's build output goes:
/// disposable, and never inside what the repository tracks.
/// Where cargo builds the crate in `dir`: `CARGO_TARGET_DIR`, else its
/// `target`.
pub fn target_dir(settings: &crate::settings::Settings, dir: &Path) -> PathBuf {
    match &settings.build.target_dir {
        Some(target) => settings.working_dir.join(target),
        None => dir.join("target"),
    }
}

pub fn cargo_with_sdk(
    settings: &crate::settings::Settings,
    dir: &Path,
) -> Result<std::process::Command> {
    let target = target_dir(settings, dir);
    let sdk = write_sdk(&target.join("scope-sdk"))?;
    let patch = |name: &str, path: &Path| {
        format!(
            "patch.crates-io.{name}.path={}",
            toml_edit::Value::from(path.to_string_lossy().as_ref())
        )
    };
    let mut cargo = std::process::Command::new(&settings.build.cargo);
    cargo
        .current_dir(dir)
        .arg("--config")
        .arg(patch("scope-plugin-api", &sdk.plugin_api));
    // The harness too, for a plugin that uses it (a patch nothing uses
    // would make cargo warn).
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml"))?;
    if manifest.contains("scope-plugin-test") {
        cargo
            .arg("--config")
            .arg(patch("scope-plugin-test", &sdk.plugin_test));
    }
    Ok(cargo)
}

/// The names of the example plugins shipped in this binary (their directories).
pub fn example_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = files::EXAMPLES
        .iter()
        .filter_map(|(path, _)| path.strip_suffix("/Cargo.toml"))
        .collect();
    names.dedup();
    names
}

/// Writes the example plugins into `dir/<name>/`. Files whose content is
/// already there are left untouched, so cargo sees nothing new.
pub fn write_examples(dir: &Path) -> Result<Vec<PathBuf>> {
    for (path, contents) in files::EXAMPLES {
        let target = dir.join(path);
        if path.ends_with("/Cargo.toml") {
            // Its own workspace, so a home that lies inside some cargo
            // workspace does not make the example a stray member of it.
            let text = std::str::from_utf8(contents).expect("manifests are UTF-8");
            let mut doc: DocumentMut = text.parse().expect("embedded manifests parse");
            doc.insert("workspace", Item::Table(Table::new()));
            fsx::write_if_changed(&target, doc.to_string().as_bytes())?;
        } else {
            fsx::write_if_changed(&target, contents)?;
        }
    }
    Ok(example_names().into_iter().map(|n| dir.join(n)).collect())
}

fn content_hash(files: &[(&str, &[u8])]) -> String {
    let mut hasher = Sha256::new();
    for (path, contents) in files {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(contents);
    }
    hasher.update(files::WORKSPACE_MANIFEST.as_bytes());
    let digest = hasher.finalize();
    scope_registry_client::registry::hex(&digest[..8])
}

/// Writes a tree once: into a temporary sibling, then one rename, so a
/// half-written tree is never mistaken for a complete one.
fn write_tree(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().expect("a named directory");
    fs_err::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".sdk-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a directory in `{}`", parent.display()))?;
    let workspace: DocumentMut = files::WORKSPACE_MANIFEST
        .parse()
        .expect("the workspace manifest parses");
    for (path, contents) in files {
        let target = staging.path().join(path);
        fs_err::create_dir_all(target.parent().expect("a file in a directory"))?;
        if path.ends_with("Cargo.toml") {
            let text = std::str::from_utf8(contents).expect("manifests are UTF-8");
            fs_err::write(&target, standalone_manifest(text, &workspace))?;
        } else {
            fs_err::write(&target, contents)?;
        }
    }
    let staged = staging.keep();
    if let Err(err) = fs_err::rename(&staged, dir) {
        let _ = fs_err::remove_dir_all(&staged);
        // Another process finished the same tree first: that is fine.
        if !dir.is_dir() {
            return Err(err.into());
        }
    }
    Ok(())
}

/// Replaces `x.workspace = true` with the workspace's values, makes internal
/// path dependencies relative to a sibling directory, and drops `[lints]`.
fn standalone_manifest(text: &str, workspace: &DocumentMut) -> String {
    let mut doc: DocumentMut = text.parse().expect("embedded manifests parse");
    let ws = workspace["workspace"]
        .as_table()
        .expect("a [workspace] table");
    doc.remove("lints");
    if let Some(package) = doc.get_mut("package").and_then(Item::as_table_mut) {
        let inherited = ws.get("package").and_then(Item::as_table);
        for (key, item) in package.iter_mut() {
            if is_inherited(item) {
                if let Some(value) = inherited.and_then(|t| t.get(key.get())) {
                    *item = value.clone();
                }
            }
        }
    }
    let pinned = ws.get("dependencies").and_then(Item::as_table);
    if let Some(deps) = doc.get_mut("dependencies").and_then(Item::as_table_mut) {
        inline_dependencies(deps, pinned);
    }
    // `[target.'cfg(unix)'.dependencies]` and the like.
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_mut) {
        for (_, target) in targets.iter_mut() {
            if let Some(deps) = target.get_mut("dependencies").and_then(Item::as_table_mut) {
                inline_dependencies(deps, pinned);
            }
        }
    }
    doc.to_string()
}

/// Replaces each `x.workspace = true` of one dependency table, keeping
/// what the member adds (`optional`, `default-features`, more `features`).
fn inline_dependencies(deps: &mut Table, pinned: Option<&Table>) {
    for (name, item) in deps.iter_mut() {
        if !is_inherited(item) {
            continue;
        }
        let Some(value) = pinned.and_then(|t| t.get(name.get())) else {
            continue;
        };
        let mut table = Table::new();
        table.set_implicit(false);
        match value.as_str() {
            Some(version) => {
                table.insert("version", toml_edit::value(version));
            }
            None => {
                for (k, v) in value.as_table_like().expect("a dependency table").iter() {
                    let v = match (k, v.as_str()) {
                        ("path", Some(path)) => toml_edit::value(format!("../{path}")),
                        _ => v.clone(),
                    };
                    table.insert(k, v);
                }
            }
        }
        for (k, v) in item.as_table_like().expect("inherited").iter() {
            match (k, table.get_mut(k)) {
                ("workspace", _) => {}
                ("features", Some(features)) => {
                    if let (Some(all), Some(more)) = (features.as_array_mut(), v.as_array()) {
                        all.extend(more.iter().cloned());
                    }
                }
                _ => {
                    table.insert(k, v.clone());
                }
            }
        }
        *item = Item::Value(toml_edit::Value::InlineTable(table.into_inline_table()));
    }
}

fn is_inherited(item: &Item) -> bool {
    item.as_table_like()
        .and_then(|t| t.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifests_become_standalone() {
        let workspace: DocumentMut = files::WORKSPACE_MANIFEST.parse().unwrap();
        let host = files::SDK
            .iter()
            .find(|(p, _)| *p == "host/Cargo.toml")
            .unwrap();
        let text = standalone_manifest(std::str::from_utf8(host.1).unwrap(), &workspace);
        assert!(!text.contains("workspace"), "{text}");
        assert!(
            text.contains(r#"scope-plugin-api = { path = "../plugin-api", version = "0.1.0" }"#),
            "{text}"
        );
        assert!(text.contains("edition = \"2021\""), "{text}");
        assert!(!text.contains("[lints]"), "{text}");
    }

    #[test]
    fn the_examples_are_embedded() {
        assert_eq!(
            example_names(),
            ["color-generator", "invert", "temporal-blend"]
        );
    }
}
