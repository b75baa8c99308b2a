//! Automatic rollbacks (`<home>/rollbacks.toml`): when the health gate
//! switched the home back from a generation, which rule failed and what was
//! measured. Generations stay immutable; `history` reads this beside them.

use std::path::PathBuf;

use anyhow::{Context, Result};
use toml_edit::{value, ArrayOfTables, DocumentMut, Item, Table};

use super::Home;
use crate::fsx;

/// One automatic rollback.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AutomaticRollback {
    /// When (RFC 3339).
    pub at: String,
    /// The generation that failed its gate.
    pub from: u64,
    /// The generation switched back to.
    pub to: u64,
    /// The rule and what was measured.
    pub reason: String,
}

const ENTRY: &str = "rollback";

impl Home {
    fn rollbacks_path(&self) -> PathBuf {
        self.root().join("rollbacks.toml")
    }

    /// Every automatic rollback, oldest first (none when the file is
    /// missing or unreadable: it is a record, not state).
    pub fn automatic_rollbacks(&self) -> Vec<AutomaticRollback> {
        let Ok(text) = fs_err::read_to_string(self.rollbacks_path()) else {
            return Vec::new();
        };
        let Ok(doc) = text.parse::<DocumentMut>() else {
            return Vec::new();
        };
        let Some(entries) = doc.get(ENTRY).and_then(Item::as_array_of_tables) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|t| {
                Some(AutomaticRollback {
                    at: t.get("at")?.as_str()?.to_owned(),
                    from: u64::try_from(t.get("from")?.as_integer()?).ok()?,
                    to: u64::try_from(t.get("to")?.as_integer()?).ok()?,
                    reason: t.get("reason")?.as_str()?.to_owned(),
                })
            })
            .collect()
    }

    /// Adds one (under the home's lock: called inside a transaction).
    pub(crate) fn record_automatic_rollback(&self, rollback: &AutomaticRollback) -> Result<()> {
        let path = self.rollbacks_path();
        let mut doc = match fs_err::read_to_string(&path) {
            Ok(text) => text
                .parse::<DocumentMut>()
                .with_context(|| format!("{} is damaged", path.display()))?,
            Err(_) => DocumentMut::new(),
        };
        let entries = doc
            .entry(ENTRY)
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .with_context(|| format!("{} is damaged", path.display()))?;
        let mut table = Table::new();
        table.insert("at", value(&rollback.at));
        table.insert("from", value(rollback.from as i64));
        table.insert("to", value(rollback.to as i64));
        table.insert("reason", value(&rollback.reason));
        entries.push(table);
        fsx::write_atomic(&path, doc.to_string().as_bytes())
    }
}
