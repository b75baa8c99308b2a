//! Generations: immutable snapshots of a home's plugin set, each with its
//! `plugins.toml`, `resolved.lock`, host binary and metadata. A generation is
//! staged in a hidden directory and appears under its number with one
//! rename, complete or not at all.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use toml_edit::{value, Array, DocumentMut};

use super::{Home, HOST_BINARY};
use crate::change::Change;

/// What a new generation is made of.
pub struct NewGeneration<'a> {
    /// The freshly built host binary.
    pub host: &'a Path,
    /// The `plugins.toml` it was built from.
    pub plugins_toml: &'a str,
    /// The `resolved.lock` it was built from.
    pub resolved_lock: &'a str,
    /// The command line that made it.
    pub command: String,
    /// What changed.
    pub changes: Vec<Change>,
    /// The fingerprint of each editable (path) plugin's sources as built.
    pub fingerprints: BTreeMap<String, String>,
}

impl NewGeneration<'_> {
    /// Writes the generation into a hidden staging directory beside the
    /// generations and returns it; renaming it to its number publishes it.
    pub(super) fn stage(&self, home: &Home, n: u64) -> Result<std::path::PathBuf> {
        let generations = home.generations_dir();
        fs_err::create_dir_all(&generations)?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".staging-{n}-"))
            .tempdir_in(&generations)
            .context("cannot stage a new generation")?;
        let dir = staging.path();
        fs_err::copy(self.host, dir.join(HOST_BINARY))?;
        fs_err::write(dir.join("plugins.toml"), self.plugins_toml)?;
        fs_err::write(dir.join("resolved.lock"), self.resolved_lock)?;
        fs_err::write(dir.join("generation.toml"), self.metadata(n))?;
        // On the disk before it is published: a power loss after the
        // commit must not leave a generation of empty files.
        for file in [
            HOST_BINARY,
            "plugins.toml",
            "resolved.lock",
            "generation.toml",
        ] {
            crate::fsx::sync_file(&dir.join(file))?;
        }
        crate::fsx::sync_dir(dir);
        Ok(staging.keep())
    }

    fn metadata(&self, n: u64) -> String {
        let mut doc = DocumentMut::new();
        doc.insert("generation", value(n as i64));
        doc.insert("created", value(crate::time::now_rfc3339()));
        doc.insert("command", value(&self.command));
        // The lines, as every scopectl reads them, and the values.
        let lines = self.changes.iter().map(ToString::to_string);
        doc.insert("changes", value(lines.collect::<Array>()));
        let values = self.changes.iter().map(Change::to_toml);
        doc.insert("change", value(values.collect::<Array>()));
        let mut fingerprints = toml_edit::Table::new();
        for (name, fingerprint) in &self.fingerprints {
            fingerprints.insert(name, value(fingerprint));
        }
        doc.insert("fingerprints", toml_edit::Item::Table(fingerprints));
        doc.to_string()
    }
}

/// What a generation's `generation.toml` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationInfo {
    /// Its number.
    pub number: u64,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The command line that made it.
    pub command: String,
    /// What changed, one line each.
    pub changes: Vec<String>,
    /// What changed, as values (none for a generation made before they
    /// were stored: read its lines).
    pub recorded: Option<Vec<Change>>,
    /// The fingerprint of each editable plugin's sources as built (none
    /// for a generation made before fingerprints were recorded).
    pub fingerprints: Option<BTreeMap<String, String>>,
}

impl GenerationInfo {
    /// Reads generation `n` of `home`; refuses one without a host binary.
    pub(super) fn read(home: &Home, n: u64) -> Result<GenerationInfo> {
        let dir = home.generation_dir(n);
        if !dir.join(HOST_BINARY).is_file() {
            anyhow::bail!(
                "generation {n} does not exist in {} (or has no host)",
                home.root().display()
            );
        }
        let path = dir.join("generation.toml");
        let text = fs_err::read_to_string(&path)?;
        let doc: DocumentMut = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let text_of = |key: &str| {
            doc.get(key)
                .and_then(toml_edit::Item::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let changes = doc
            .get("changes")
            .and_then(toml_edit::Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let recorded = doc
            .get("change")
            .and_then(toml_edit::Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| Change::from_toml(v.as_inline_table()?))
                    .collect()
            });
        let fingerprints = doc
            .get("fingerprints")
            .and_then(toml_edit::Item::as_table_like)
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.to_owned(), v.as_str()?.to_owned())))
                    .collect()
            });
        Ok(GenerationInfo {
            number: n,
            created: text_of("created"),
            command: text_of("command"),
            changes,
            recorded,
            fingerprints,
        })
    }
}
