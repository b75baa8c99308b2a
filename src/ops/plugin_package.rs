//! What `scopectl check` asks of a plugin's package, as a registry would
//! receive it: `cargo package --list` names the files it would hold, and
//! every file the build reads must be among them (its sources under
//! `src/`, `build.rs`, and what `include_bytes!`/`include_str!` name); a
//! dependency by `path` or `git` needs a `version` too, or a registry
//! cannot hold the plugin.

use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

use super::plugin_check::{Finding, Level};
use crate::host_build::describe_spawn_error;
use crate::settings::Settings;

/// The findings about the package of the plugin crate in `dir`.
pub fn findings(dir: &Path, settings: &Settings) -> Result<Vec<Finding>> {
    let mut findings = unpublishable_dependencies(dir)?;
    let mut cargo = crate::embedded::cargo_with_sdk(settings, dir)?;
    cargo.args(["package", "--list", "--allow-dirty", "--quiet"]);
    if settings.build.offline {
        cargo.arg("--offline");
    }
    let output = crate::cancel::output(&mut cargo).map_err(describe_spawn_error)?;
    if !output.status.success() {
        findings.push(Finding {
            level: Level::Error,
            message: format!(
                "`cargo package --list` fails: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
        return Ok(findings);
    }
    let packaged: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let left_out: Vec<String> = needed_by_the_build(dir)?
        .into_iter()
        .filter(|file| !packaged.contains(file))
        .collect();
    if left_out.is_empty() {
        findings.push(Finding {
            level: Level::Ok,
            message: format!(
                "its package ({} files) holds every file the build reads",
                packaged.len()
            ),
        });
    }
    for file in left_out {
        findings.push(Finding {
            level: Level::Error,
            message: format!(
                "the build reads {file}, but `cargo package` leaves it out: it is excluded by Cargo.toml's `exclude`/`include` or ignored by git; a registry's copy would not build"
            ),
        });
    }
    Ok(findings)
}

/// Dependencies a registry refuses: by `path` or `git` without a `version`.
fn unpublishable_dependencies(dir: &Path) -> Result<Vec<Finding>> {
    let text = fs_err::read_to_string(dir.join("Cargo.toml"))?;
    let doc: toml_edit::DocumentMut = text.parse()?;
    let mut findings = Vec::new();
    for table in ["dependencies", "build-dependencies"] {
        let Some(deps) = doc.get(table).and_then(toml_edit::Item::as_table_like) else {
            continue;
        };
        for (name, dep) in deps.iter() {
            let Some(dep) = dep.as_table_like() else {
                continue;
            };
            let source = ["path", "git"].into_iter().find(|k| dep.contains_key(k));
            if let (Some(source), false) = (source, dep.contains_key("version")) {
                findings.push(Finding {
                    level: Level::Error,
                    message: format!(
                        "[{table}] {name} is given by `{source}` alone: a registry cannot hold a plugin with it; add the version it needs beside the {source} (`version = \"0.1\"`), which is what a registry's copy uses"
                    ),
                });
            }
        }
    }
    Ok(findings)
}

/// The files under `dir` its build reads, as `cargo package --list`
/// spells them (relative, `/`-separated).
fn needed_by_the_build(dir: &Path) -> Result<BTreeSet<String>> {
    let mut needed = BTreeSet::new();
    let mut sources = Vec::new();
    if dir.join("build.rs").is_file() {
        sources.push(dir.join("build.rs"));
    }
    let mut pending = vec![dir.join("src")];
    while let Some(folder) = pending.pop() {
        if !folder.is_dir() {
            continue;
        }
        for entry in fs_err::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(path);
            }
        }
    }
    for source in &sources {
        let text = fs_err::read_to_string(source)?;
        let base = source.parent().unwrap_or(dir);
        for included in included_files(&text) {
            needed.insert(base.join(included));
        }
        needed.insert(source.clone());
    }
    Ok(needed
        .into_iter()
        .filter_map(|path| relative(dir, &path))
        .collect())
}

/// The literal paths named by `include_bytes!("…")` and `include_str!("…")`.
fn included_files(source: &str) -> Vec<&str> {
    let mut files = Vec::new();
    for macro_call in ["include_bytes!(\"", "include_str!(\""] {
        for (at, _) in source.match_indices(macro_call) {
            let rest = &source[at + macro_call.len()..];
            if let Some(end) = rest.find('"') {
                files.push(&rest[..end]);
            }
        }
    }
    files
}

/// `path` relative to `dir` with `..` resolved lexically, if it is inside.
fn relative(dir: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(dir).ok()?;
    let mut parts: Vec<String> = Vec::new();
    for part in rest.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::Normal(name) => parts.push(name.to_string_lossy().into()),
            _ => {}
        }
    }
    Some(parts.join("/")).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn included_files_are_the_literal_paths() {
        let source = r#"const LUT: &[u8] = include_bytes!("../data/lut.bin");
            const HELP: &str = include_str!("help.txt");"#;
        assert_eq!(included_files(source), ["../data/lut.bin", "help.txt"]);
    }

    #[test]
    fn paths_are_relative_to_the_crate() {
        let dir = PathBuf::from("/p");
        let path = dir.join("src").join("../data/lut.bin");
        assert_eq!(relative(&dir, &path).as_deref(), Some("data/lut.bin"));
        assert_eq!(relative(&dir, Path::new("/p/../x")), None);
    }
}
