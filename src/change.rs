//! What a change did, as a value: made by planning and by the host build,
//! carried by the outcome of a change, stored in the generation's
//! metadata, and rendered from the same value by the printer (one line,
//! [`fmt::Display`]) and by `history --json` ([`Change::entry`]).

use std::fmt;

use semver::Version;
use toml_edit::{InlineTable, Value};

use crate::documents::ChangeEntry;

/// One thing a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A plugin came: `+ fx v1.0.0`.
    Added { name: String, version: Version },
    /// A plugin went: `- fx v1.0.0`.
    Removed { name: String, version: Version },
    /// A plugin moved to another version: `~ fx v1.0.0 -> v1.1.0`.
    Moved {
        name: String,
        from: Version,
        to: Version,
    },
    /// A git plugin moved to another commit of the same version:
    /// `~ fx v0.2.0 (1234abcd -> 5678ef01)`.
    CommitMoved {
        name: String,
        version: Version,
        from: String,
        to: String,
    },
    /// A plugin of the same version now comes from elsewhere:
    /// `~ fx v0.2.0 (new source)`.
    SourceChanged { name: String, version: Version },
    /// An editable (path) plugin's sources were edited in place:
    /// `~ fx v0.2.0 (edited)`.
    Edited { name: String, version: Version },
    /// A third-party crate of the host moved (`~ crate x v1 -> v2`), came
    /// (`+ crate x v1`) or went (`- crate x v1`).
    Crate {
        name: String,
        from: Option<Version>,
        to: Option<Version>,
    },
    /// A generation imported from elsewhere:
    /// `imported generation 3 of SOURCE (sha256:…)`.
    Imported {
        generation: u64,
        source: String,
        digest: String,
    },
}

impl From<scope_lockfile::CrateChange> for Change {
    fn from(change: scope_lockfile::CrateChange) -> Change {
        Change::Crate {
            name: change.name,
            from: change.from,
            to: change.to,
        }
    }
}

impl Change {
    /// The plugin it is about, if it is about one.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            Change::Added { name, .. }
            | Change::Removed { name, .. }
            | Change::Moved { name, .. }
            | Change::CommitMoved { name, .. }
            | Change::SourceChanged { name, .. }
            | Change::Edited { name, .. } => Some(name),
            Change::Crate { .. } | Change::Imported { .. } => None,
        }
    }

    /// The change as `history --json` lists it (`None` for what it does not
    /// list: a new source, an edit, an import).
    pub fn entry(&self) -> Option<ChangeEntry> {
        let entry = |kind, what, name: &str, from: Option<String>, to: Option<String>| {
            Some(ChangeEntry {
                kind,
                what,
                name: name.to_owned(),
                from,
                to,
            })
        };
        let text = |v: &Version| Some(v.to_string());
        match self {
            Change::Added { name, version } => entry("added", "plugin", name, None, text(version)),
            Change::Removed { name, version } => {
                entry("removed", "plugin", name, text(version), None)
            }
            Change::Moved { name, from, to } => {
                entry("changed", "plugin", name, text(from), text(to))
            }
            Change::CommitMoved { name, from, to, .. } => entry(
                "changed",
                "plugin",
                name,
                Some(short(from).to_owned()),
                Some(short(to).to_owned()),
            ),
            Change::Crate { name, from, to } => {
                let kind = match (from, to) {
                    (None, _) => "added",
                    (_, None) => "removed",
                    _ => "changed",
                };
                let from = from.as_ref().map(Version::to_string);
                entry(
                    kind,
                    "crate",
                    name,
                    from,
                    to.as_ref().map(Version::to_string),
                )
            }
            Change::SourceChanged { .. } | Change::Edited { .. } | Change::Imported { .. } => None,
        }
    }

    /// The change as the generation's metadata stores it.
    pub fn to_toml(&self) -> InlineTable {
        let mut table = InlineTable::new();
        let mut set = |key: &str, value: String| {
            table.insert(key, Value::from(value));
        };
        let kind = match self {
            Change::Added { name, version }
            | Change::Removed { name, version }
            | Change::SourceChanged { name, version }
            | Change::Edited { name, version } => {
                set("name", name.clone());
                set("version", version.to_string());
                match self {
                    Change::Added { .. } => "added",
                    Change::Removed { .. } => "removed",
                    Change::SourceChanged { .. } => "source-changed",
                    _ => "edited",
                }
            }
            Change::Moved { name, from, to } => {
                set("name", name.clone());
                set("from", from.to_string());
                set("to", to.to_string());
                "moved"
            }
            Change::CommitMoved {
                name,
                version,
                from,
                to,
            } => {
                set("name", name.clone());
                set("version", version.to_string());
                set("from", from.clone());
                set("to", to.clone());
                "commit-moved"
            }
            Change::Crate { name, from, to } => {
                set("name", name.clone());
                if let Some(from) = from {
                    set("from", from.to_string());
                }
                if let Some(to) = to {
                    set("to", to.to_string());
                }
                "crate"
            }
            Change::Imported {
                generation,
                source,
                digest,
            } => {
                set("generation", generation.to_string());
                set("source", source.clone());
                set("digest", digest.clone());
                "imported"
            }
        };
        table.insert("kind", Value::from(kind));
        table.fmt();
        table
    }

    /// Reads what [`Change::to_toml`] wrote; `None` for anything else (a
    /// kind from a later scopectl).
    pub fn from_toml(table: &InlineTable) -> Option<Change> {
        let text = |key: &str| table.get(key).and_then(Value::as_str).map(str::to_owned);
        let version = |key: &str| text(key).and_then(|v| Version::parse(&v).ok());
        let name = text("name");
        Some(match table.get("kind")?.as_str()? {
            "added" => Change::Added {
                name: name?,
                version: version("version")?,
            },
            "removed" => Change::Removed {
                name: name?,
                version: version("version")?,
            },
            "source-changed" => Change::SourceChanged {
                name: name?,
                version: version("version")?,
            },
            "edited" => Change::Edited {
                name: name?,
                version: version("version")?,
            },
            "moved" => Change::Moved {
                name: name?,
                from: version("from")?,
                to: version("to")?,
            },
            "commit-moved" => Change::CommitMoved {
                name: name?,
                version: version("version")?,
                from: text("from")?,
                to: text("to")?,
            },
            "crate" => Change::Crate {
                name: name?,
                from: version("from"),
                to: version("to"),
            },
            "imported" => Change::Imported {
                generation: text("generation")?.parse().ok()?,
                source: text("source")?,
                digest: text("digest")?,
            },
            _ => return None,
        })
    }
}

/// The changes one line each, as the API and messages give them.
pub fn lines(changes: &[Change]) -> Vec<String> {
    changes.iter().map(ToString::to_string).collect()
}

/// A commit as people read it: its first 8 characters.
fn short(commit: &str) -> &str {
    commit.get(..8).unwrap_or(commit)
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added { name, version } => write!(f, "+ {name} v{version}"),
            Change::Removed { name, version } => write!(f, "- {name} v{version}"),
            Change::Moved { name, from, to } => write!(f, "~ {name} v{from} -> v{to}"),
            Change::CommitMoved {
                name,
                version,
                from,
                to,
            } => write!(f, "~ {name} v{version} ({} -> {})", short(from), short(to)),
            Change::SourceChanged { name, version } => {
                write!(f, "~ {name} v{version} (new source)")
            }
            Change::Edited { name, version } => write!(f, "~ {name} v{version} (edited)"),
            Change::Crate { name, from, to } => match (from, to) {
                (Some(from), Some(to)) => write!(f, "~ crate {name} v{from} -> v{to}"),
                (None, Some(to)) => write!(f, "+ crate {name} v{to}"),
                (Some(from), None) => write!(f, "- crate {name} v{from}"),
                (None, None) => write!(f, "~ crate {name}"),
            },
            Change::Imported {
                generation,
                source,
                digest,
            } => write!(f, "imported generation {generation} of {source} ({digest})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Change> {
        let v = |s: &str| Version::parse(s).unwrap();
        let name = || "fx".to_owned();
        vec![
            Change::Added {
                name: name(),
                version: v("1.0.0"),
            },
            Change::Removed {
                name: name(),
                version: v("1.0.0"),
            },
            Change::Moved {
                name: name(),
                from: v("1.0.0"),
                to: v("1.1.0"),
            },
            Change::CommitMoved {
                name: name(),
                version: v("0.2.0"),
                from: "0123456789abcdef".into(),
                to: "fedcba9876543210".into(),
            },
            Change::SourceChanged {
                name: name(),
                version: v("0.2.0"),
            },
            Change::Edited {
                name: name(),
                version: v("0.2.0"),
            },
            Change::Crate {
                name: "helper".into(),
                from: Some(v("1.0.0")),
                to: Some(v("1.1.0")),
            },
            Change::Crate {
                name: "helper".into(),
                from: None,
                to: Some(v("1.0.0")),
            },
            Change::Imported {
                generation: 3,
                source: "oci://127.0.0.1:5000/fx:v1".into(),
                digest: "sha256:abc".into(),
            },
        ]
    }

    #[test]
    fn each_kind_reads_back_as_stored() {
        for change in every_kind() {
            let stored = change.to_toml().to_string();
            let doc: toml_edit::DocumentMut = format!("c = {stored}").parse().unwrap();
            let table = doc["c"].as_inline_table().unwrap();
            assert_eq!(Change::from_toml(table), Some(change), "{stored}");
        }
    }

    #[test]
    fn the_json_of_a_change_is_what_the_line_of_an_old_generation_reads_as() {
        // Generations made before changes were stored as values are read
        // from their lines: both must say the same.
        for change in every_kind() {
            assert_eq!(
                change.entry(),
                ChangeEntry::parse(&change.to_string()),
                "{change}"
            );
        }
    }

    #[test]
    fn lines_read_as_before() {
        let lines: Vec<String> = every_kind().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "+ fx v1.0.0",
                "- fx v1.0.0",
                "~ fx v1.0.0 -> v1.1.0",
                "~ fx v0.2.0 (01234567 -> fedcba98)",
                "~ fx v0.2.0 (new source)",
                "~ fx v0.2.0 (edited)",
                "~ crate helper v1.0.0 -> v1.1.0",
                "+ crate helper v1.0.0",
                "imported generation 3 of oci://127.0.0.1:5000/fx:v1 (sha256:abc)",
            ]
        );
    }
}
