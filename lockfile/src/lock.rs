//! `resolved.lock`.

use std::path::{Path, PathBuf};

use scope_name::PluginName;
use semver::Version;

use crate::GitReference;
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

/// The format version this scopectl writes and reads.
pub const LOCK_VERSION: i64 = 1;

/// Where a pinned plugin came from, exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PinSource {
    /// A registry crate and its SHA-256.
    Registry {
        /// The registry's name (`crates-io` for the default).
        registry: String,
        /// Hex SHA-256 of the `.crate`.
        checksum: String,
    },
    /// A git commit.
    Git {
        /// The URL.
        url: String,
        /// What was asked for; written `branch=main`, `tag=v1`, `rev=abc`,
        /// or empty for the default branch.
        reference: GitReference,
        /// The full commit id.
        commit: String,
    },
    /// A local directory.
    Path {
        /// The directory as `plugins.toml` records it (relative ones are
        /// relative to the directory holding `plugins.toml`), so the lock is
        /// the same bytes wherever the home is checked out.
        path: PathBuf,
    },
}

/// One chosen plugin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pin {
    /// Its name.
    pub name: PluginName,
    /// Its exact version.
    pub version: Version,
    /// Its source.
    pub source: PinSource,
    /// The plugins it depends on, by name, sorted.
    pub dependencies: Vec<PluginName>,
}

/// One crate of the host build's graph, as cargo locked it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CratePin {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: Version,
    /// cargo's source string (`registry+...`, `git+...#commit`), none for path crates.
    pub source: Option<String>,
    /// Its checksum, for registry crates.
    pub checksum: Option<String>,
    /// Its dependencies as `Cargo.lock` lists them (`name`, `name version`
    /// or `name version (source)`), so that the graph can be written back.
    pub dependencies: Vec<String>,
}

/// The `Cargo.lock` format version scopectl writes for a host build.
const CARGO_LOCK_VERSION: i64 = 4;

/// Reads a TOML array of strings.
fn strings(table: &Table, key: &str) -> Vec<String> {
    table
        .get(key)
        .and_then(Item::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// How one third-party crate of the host differs: it moved (both
/// versions), came (`to` only) or went (`from` only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateChange {
    /// The crate.
    pub name: String,
    /// Its version before.
    pub from: Option<Version>,
    /// Its version after.
    pub to: Option<Version>,
}

impl CratePin {
    /// How the third-party crates (those with a source: path crates are the
    /// host and its plugins) differ from `old` to `new`, by name: one move
    /// when a crate had one version and has another, otherwise a removal
    /// per version gone and an addition per version come.
    pub fn changes(old: &[CratePin], new: &[CratePin]) -> Vec<CrateChange> {
        use std::collections::BTreeMap;
        let versions = |crates: &[CratePin]| {
            let mut map: BTreeMap<String, Vec<Version>> = BTreeMap::new();
            for c in crates.iter().filter(|c| c.source.is_some()) {
                map.entry(c.name.clone())
                    .or_default()
                    .push(c.version.clone());
            }
            map
        };
        let (old, new) = (versions(old), versions(new));
        let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
        names.sort();
        names.dedup();
        let mut lines = Vec::new();
        for name in names {
            let empty = Vec::new();
            let (was, now) = (
                old.get(name).unwrap_or(&empty),
                new.get(name).unwrap_or(&empty),
            );
            let gone: Vec<&Version> = was.iter().filter(|v| !now.contains(v)).collect();
            let came: Vec<&Version> = now.iter().filter(|v| !was.contains(v)).collect();
            let change = |from: Option<&Version>, to: Option<&Version>| CrateChange {
                name: name.clone(),
                from: from.cloned(),
                to: to.cloned(),
            };
            match (gone.as_slice(), came.as_slice()) {
                ([], []) => {}
                ([from], [to]) => lines.push(change(Some(from), Some(to))),
                _ => {
                    lines.extend(gone.iter().map(|v| change(Some(v), None)));
                    lines.extend(came.iter().map(|v| change(None, Some(v))));
                }
            }
        }
        lines
    }

    /// Each crate as a table, in the keys `Cargo.lock` and `resolved.lock`
    /// share (`[[package]]` there, `[[crate]]` here).
    fn tables(crates: &[CratePin]) -> ArrayOfTables {
        let mut tables = ArrayOfTables::new();
        for c in crates {
            let mut t = Table::new();
            t.insert("name", value(&c.name));
            t.insert("version", value(c.version.to_string()));
            if let Some(source) = &c.source {
                t.insert("source", value(source));
            }
            if let Some(checksum) = &c.checksum {
                t.insert("checksum", value(checksum));
            }
            if !c.dependencies.is_empty() {
                t.insert(
                    "dependencies",
                    value(c.dependencies.iter().collect::<Array>()),
                );
            }
            tables.push(t);
        }
        tables
    }

    /// The `Cargo.lock` of a build whose crate graph is `crates`, for cargo
    /// to start from: it keeps every crate where it is unless something
    /// new needs it to move (or, with `--locked`, refuses to move any).
    pub fn to_cargo_lock(crates: &[CratePin]) -> String {
        let mut doc = DocumentMut::new();
        doc.insert("version", value(CARGO_LOCK_VERSION));
        doc.insert("package", Item::ArrayOfTables(CratePin::tables(crates)));
        format!("# Written by scopectl from resolved.lock; cargo keeps it up to date.\n{doc}")
    }

    /// Every package of a `Cargo.lock`: the crate graph cargo resolved.
    pub fn from_cargo_lock(path: &Path, text: &str) -> Result<Vec<CratePin>, LockError> {
        let doc = parse_toml(path, text)?;
        let invalid = |message: String| LockError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut crates = Vec::new();
        for t in doc
            .get("package")
            .and_then(Item::as_array_of_tables)
            .into_iter()
            .flatten()
        {
            let name = t
                .get("name")
                .and_then(Item::as_str)
                .ok_or_else(|| invalid("a [[package]] has no name".into()))?;
            let version = t.get("version").and_then(Item::as_str).unwrap_or("");
            let version =
                Version::parse(version).map_err(|e| invalid(format!("package `{name}`: {e}")))?;
            crates.push(CratePin {
                name: name.to_owned(),
                version,
                source: t.get("source").and_then(Item::as_str).map(str::to_owned),
                checksum: t.get("checksum").and_then(Item::as_str).map(str::to_owned),
                dependencies: strings(t, "dependencies"),
            });
        }
        crates.sort();
        Ok(crates)
    }
}

/// One data file of a plugin, as fetched and verified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArtifactPin {
    /// The plugin that declared it.
    pub plugin: String,
    /// Its name in the plugin.
    pub name: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The URL its bytes came from.
    pub url: String,
    /// Unpacked from a `tar.gz` archive.
    pub unpack: bool,
}

/// `resolved.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockfile {
    /// The host runtime's version.
    pub host_version: Version,
    /// The plugin API version the host provides.
    pub api_version: Version,
    /// Every plugin, sorted by name.
    pub plugins: Vec<Pin>,
    /// The host build's full crate graph, sorted.
    pub crates: Vec<CratePin>,
    /// The plugins' data files, sorted by plugin and name.
    pub artifacts: Vec<ArtifactPin>,
}

/// A `resolved.lock` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Not valid TOML.
    #[error("{path} is not valid TOML:\n{message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's report.
        message: String,
    },
    /// Written by a newer scopectl.
    #[error("{path} has format version {found}, newer than this scopectl reads ({LOCK_VERSION}); upgrade scopectl")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// A key is missing or malformed.
    #[error(
        "{path}: {message}; the file is written by scopectl: regenerate it with `scopectl sync`"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Lockfile {
    /// Sorts everything, so equal content is equal text.
    pub fn normalize(&mut self) {
        for pin in &mut self.plugins {
            pin.dependencies.sort();
            pin.dependencies.dedup();
        }
        self.plugins.sort();
        self.crates.sort();
        self.crates.dedup();
        self.artifacts.sort();
        self.artifacts.dedup();
    }

    /// The file's text: deterministic, sorted, diff-friendly.
    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        lock.normalize();
        let mut doc = DocumentMut::new();
        doc.decor_mut()
            .set_prefix("# Written by scopectl: exactly what was chosen. Do not edit by hand.\n");
        doc.insert("version", value(LOCK_VERSION));
        doc.insert("host_version", value(lock.host_version.to_string()));
        doc.insert("api_version", value(lock.api_version.to_string()));
        let mut plugins = ArrayOfTables::new();
        for pin in &lock.plugins {
            let mut t = Table::new();
            t.insert("name", value(pin.name.as_str()));
            t.insert("version", value(pin.version.to_string()));
            match &pin.source {
                PinSource::Registry { registry, checksum } => {
                    t.insert("source", value(format!("registry+{registry}")));
                    t.insert("checksum", value(checksum));
                }
                PinSource::Git {
                    url,
                    reference,
                    commit,
                } => {
                    t.insert("source", value(format!("git+{url}")));
                    t.insert("reference", value(reference.lock_text()));
                    t.insert("commit", value(commit));
                }
                PinSource::Path { path } => {
                    t.insert("source", value(format!("path+{}", path.display())));
                }
            }
            t.insert(
                "dependencies",
                value(
                    pin.dependencies
                        .iter()
                        .map(PluginName::normalized)
                        .collect::<Array>(),
                ),
            );
            plugins.push(t);
        }
        doc.insert("plugin", Item::ArrayOfTables(plugins));
        doc.insert("crate", Item::ArrayOfTables(CratePin::tables(&lock.crates)));
        if !lock.artifacts.is_empty() {
            let mut artifacts = ArrayOfTables::new();
            for a in &lock.artifacts {
                let mut t = Table::new();
                t.insert("plugin", value(&a.plugin));
                t.insert("name", value(&a.name));
                t.insert("sha256", value(&a.sha256));
                t.insert("size", value(a.size as i64));
                t.insert("url", value(&a.url));
                if a.unpack {
                    t.insert("unpack", value("tar.gz"));
                }
                artifacts.push(t);
            }
            doc.insert("artifact", Item::ArrayOfTables(artifacts));
        }
        doc.to_string()
    }

    /// Parses the file at `path` from `text`.
    pub fn parse(path: &Path, text: &str) -> Result<Lockfile, LockError> {
        let doc = parse_toml(path, text)?;
        let invalid = |message: String| LockError::Invalid {
            path: path.to_owned(),
            message,
        };
        let found = doc
            .get("version")
            .and_then(Item::as_integer)
            .ok_or_else(|| invalid("no `version` key".into()))?;
        if found > LOCK_VERSION {
            return Err(LockError::TooNew {
                path: path.to_owned(),
                found,
            });
        }
        let text_of = |table: &Table, key: &str, what: &str| -> Result<String, LockError> {
            table
                .get(key)
                .and_then(Item::as_str)
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{what} has no `{key}`")))
        };
        let version_of = |table: &Table, key: &str, what: &str| -> Result<Version, LockError> {
            let text = text_of(table, key, what)?;
            Version::parse(&text).map_err(|e| {
                invalid(format!(
                    "{what}: `{key} = \"{text}\"` is not a version: {e}"
                ))
            })
        };
        let root = doc.as_table();
        let host_version = version_of(root, "host_version", "the file")?;
        let api_version = version_of(root, "api_version", "the file")?;
        let mut plugins = Vec::new();
        for t in doc
            .get("plugin")
            .and_then(Item::as_array_of_tables)
            .into_iter()
            .flatten()
        {
            let name = text_of(t, "name", "a [[plugin]]")?;
            let what = format!("plugin `{name}`");
            let name = PluginName::new(&name).map_err(|e| invalid(e.to_string()))?;
            let version = version_of(t, "version", &what)?;
            let source_text = text_of(t, "source", &what)?;
            let source = if let Some(registry) = source_text.strip_prefix("registry+") {
                PinSource::Registry {
                    registry: registry.to_owned(),
                    checksum: text_of(t, "checksum", &what)?,
                }
            } else if let Some(url) = source_text.strip_prefix("git+") {
                PinSource::Git {
                    url: url.to_owned(),
                    reference: GitReference::from_lock_text(&text_of(t, "reference", &what)?)
                        .ok_or_else(|| invalid(format!("{what} has an unknown git reference")))?,
                    commit: text_of(t, "commit", &what)?,
                }
            } else if let Some(dir) = source_text.strip_prefix("path+") {
                PinSource::Path {
                    path: PathBuf::from(dir),
                }
            } else {
                return Err(invalid(format!(
                    "{what} has an unknown source `{source_text}`"
                )));
            };
            let dependencies = t
                .get("dependencies")
                .and_then(Item::as_array)
                .into_iter()
                .flatten()
                .map(|v| {
                    v.as_str()
                        .and_then(|d| PluginName::new(d).ok())
                        .ok_or_else(|| invalid(format!("{what} has an invalid dependency")))
                })
                .collect::<Result<_, _>>()?;
            plugins.push(Pin {
                name,
                version,
                source,
                dependencies,
            });
        }
        let mut crates = Vec::new();
        for t in doc
            .get("crate")
            .and_then(Item::as_array_of_tables)
            .into_iter()
            .flatten()
        {
            let name = text_of(t, "name", "a [[crate]]")?;
            let what = format!("crate `{name}`");
            crates.push(CratePin {
                version: version_of(t, "version", &what)?,
                source: t.get("source").and_then(Item::as_str).map(str::to_owned),
                checksum: t.get("checksum").and_then(Item::as_str).map(str::to_owned),
                dependencies: strings(t, "dependencies"),
                name,
            });
        }
        let mut artifacts = Vec::new();
        for t in doc
            .get("artifact")
            .and_then(Item::as_array_of_tables)
            .into_iter()
            .flatten()
        {
            let plugin = text_of(t, "plugin", "an [[artifact]]")?;
            let name = text_of(t, "name", "an [[artifact]]")?;
            let what = format!("artifact `{name}` of `{plugin}`");
            let size = t
                .get("size")
                .and_then(Item::as_integer)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| invalid(format!("{what} has no `size`")))?;
            artifacts.push(ArtifactPin {
                sha256: text_of(t, "sha256", &what)?,
                url: text_of(t, "url", &what)?,
                unpack: t.get("unpack").and_then(Item::as_str) == Some("tar.gz"),
                size,
                plugin,
                name,
            });
        }
        let mut lock = Lockfile {
            host_version,
            api_version,
            plugins,
            crates,
            artifacts,
        };
        lock.normalize();
        Ok(lock)
    }
}

fn parse_toml(path: &Path, text: &str) -> Result<DocumentMut, LockError> {
    text.parse()
        .map_err(|e: toml_edit::TomlError| LockError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
}
