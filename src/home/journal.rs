//! The journal of a change in progress (`<home>/.transaction`): which
//! generation is about to become active, which one was, and whether the
//! change created the new one (a build) or only switches to it (a
//! rollback). Written before the switch, removed after; a journal found by
//! the next command means the change was interrupted.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fsx;

/// What an unfinished change was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Journal {
    /// The generation about to become active.
    pub new: u64,
    /// The generation active before (0: none).
    pub previous: u64,
    /// Whether the change created `new` (and so must remove it when undone).
    pub created: bool,
}

impl Journal {
    fn path(root: &Path) -> PathBuf {
        root.join(".transaction")
    }

    /// The journal in the home at `root`, if a change left one.
    pub fn read(root: &Path) -> Option<Result<Journal>> {
        let text = fs_err::read_to_string(Journal::path(root)).ok()?;
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(" = "))
                .map(str::trim)
        };
        let parsed = (|| {
            Some(Journal {
                new: field("new")?.parse().ok()?,
                previous: field("previous")?.parse().ok()?,
                // Journals written before switches were journaled always created.
                created: field("created").is_none_or(|v| v == "true"),
            })
        })();
        Some(parsed.context("the journal of an interrupted change is damaged"))
    }

    /// Writes the journal (atomically).
    pub fn write(&self, root: &Path) -> Result<()> {
        let text = format!(
            "new = {}\nprevious = {}\ncreated = {}\n",
            self.new, self.previous, self.created
        );
        fsx::write_atomic(&Journal::path(root), text.as_bytes())
    }

    /// Removes the journal: the change is complete.
    pub fn remove(root: &Path) -> Result<()> {
        fs_err::remove_file(Journal::path(root))?;
        Ok(())
    }

    /// Whether a journal is there.
    pub fn exists(root: &Path) -> bool {
        Journal::path(root).exists()
    }
}
