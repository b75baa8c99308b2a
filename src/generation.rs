//! Generations: immutable snapshots of a home's plugin set, each with its
//! `plugins.toml`, `resolved.lock`, host binary and metadata. A generation is
//! staged in a hidden directory and appears under its number with one
//! rename, complete or not at all.

use std::path::Path;

use anyhow::{Context, Result};
use toml_edit::{value, Array, DocumentMut};

use crate::home::{Home, HOST_BINARY};

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
    /// What changed, one line each.
    pub changes: Vec<String>,
}

impl NewGeneration<'_> {
    /// Writes the generation as number `n` of `home`.
    pub fn create(&self, home: &Home, n: u64) -> Result<()> {
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
        let staged = staging.keep();
        fs_err::rename(&staged, home.generation_dir(n))?;
        Ok(())
    }

    fn metadata(&self, n: u64) -> String {
        let mut doc = DocumentMut::new();
        doc.insert("generation", value(n as i64));
        doc.insert("created", value(crate::time::now_rfc3339()));
        doc.insert("command", value(&self.command));
        doc.insert("changes", value(self.changes.iter().collect::<Array>()));
        doc.to_string()
    }
}
