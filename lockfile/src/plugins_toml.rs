//! `plugins.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use scope_name::PluginName;
use semver::VersionReq;
use toml_edit::{DocumentMut, ImDocument, InlineTable, Item, Table, Value};

/// What to take from a git repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GitReference {
    /// The default branch.
    DefaultBranch,
    /// A branch.
    Branch(String),
    /// A tag.
    Tag(String),
    /// A commit (full or abbreviated) or other revision.
    Rev(String),
}

impl GitReference {
    /// How `resolved.lock` records it: `branch=B`, `tag=T`, `rev=R`, or
    /// empty for the default branch.
    pub fn lock_text(&self) -> String {
        match self {
            GitReference::DefaultBranch => String::new(),
            GitReference::Branch(b) => format!("branch={b}"),
            GitReference::Tag(t) => format!("tag={t}"),
            GitReference::Rev(r) => format!("rev={r}"),
        }
    }

    /// Reads [`GitReference::lock_text`] back.
    pub fn from_lock_text(text: &str) -> Option<GitReference> {
        if text.is_empty() {
            return Some(GitReference::DefaultBranch);
        }
        let (kind, value) = text.split_once('=')?;
        let value = value.to_owned();
        match kind {
            "branch" => Some(GitReference::Branch(value)),
            "tag" => Some(GitReference::Tag(value)),
            "rev" => Some(GitReference::Rev(value)),
            _ => None,
        }
    }
}

/// Where one plugin comes from, as the user asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSpec {
    /// A registry crate.
    Registry {
        /// The version requirement.
        req: VersionReq,
        /// A registry named under `[registries]`; the default one when `None`.
        registry: Option<String>,
    },
    /// A git repository.
    Git {
        /// The URL.
        url: String,
        /// What to take from it.
        reference: GitReference,
    },
    /// A local directory (editable).
    Path {
        /// The directory as the file records it: a relative one is read
        /// against the directory that holds `plugins.toml`, never against
        /// the working directory, so a home can move with its plugins.
        path: PathBuf,
    },
}

impl fmt::Display for PluginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSpec::Registry {
                req,
                registry: None,
            } => write!(f, "{req}"),
            PluginSpec::Registry {
                req,
                registry: Some(r),
            } => write!(f, "{req} from registry `{r}`"),
            PluginSpec::Git {
                url,
                reference: GitReference::DefaultBranch,
            } => write!(f, "{url}"),
            PluginSpec::Git {
                url,
                reference: GitReference::Branch(b),
            } => write!(f, "{url} (branch {b})"),
            PluginSpec::Git {
                url,
                reference: GitReference::Tag(t),
            } => write!(f, "{url} (tag {t})"),
            PluginSpec::Git {
                url,
                reference: GitReference::Rev(r),
            } => write!(f, "{url} (rev {r})"),
            PluginSpec::Path { path } => write!(f, "{}", path.display()),
        }
    }
}

/// A `plugins.toml` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PluginsTomlError {
    /// Not valid TOML.
    #[error("{path} is not valid TOML:\n{message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's report: line, column and the offending text.
        message: String,
    },
    /// Valid TOML that does not say what scopectl understands.
    #[error("{path}:{line}:{column}: {message}\n  {text}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The offending text.
        text: String,
        /// What is wrong.
        message: String,
    },
}

const TOP_KEYS: [&str; 3] = ["plugins", "registries", "allow"];
const SPEC_KEYS: [&str; 7] = ["version", "registry", "git", "branch", "tag", "rev", "path"];

/// `plugins.toml`: parsed, and editable without losing the user's layout.
#[derive(Debug, Clone)]
pub struct PluginsToml {
    path: PathBuf,
    source: String,
    doc: DocumentMut,
    plugins: BTreeMap<PluginName, PluginSpec>,
    registries: BTreeMap<String, String>,
    grants: BTreeMap<PluginName, Vec<String>>,
}

impl PluginsToml {
    /// An empty file, to be written at `path`.
    pub fn empty(path: &Path) -> PluginsToml {
        PluginsToml::parse(path, "[plugins]\n").expect("an empty plugins table parses")
    }

    /// Parses `text`, read from `path` (for messages).
    pub fn parse(path: &Path, text: &str) -> Result<PluginsToml, PluginsTomlError> {
        // Spans (for line and column in errors) live in the immutable
        // document; edits happen on a mutable copy.
        let spanned = ImDocument::parse(text.to_owned()).map_err(|e| PluginsTomlError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut parsed = PluginsToml {
            path: path.to_owned(),
            source: text.to_owned(),
            doc: spanned.clone().into_mut(),
            plugins: BTreeMap::new(),
            registries: BTreeMap::new(),
            grants: BTreeMap::new(),
        };
        parsed.read(spanned.as_table())?;
        Ok(parsed)
    }

    fn invalid(&self, span: Option<std::ops::Range<usize>>, message: String) -> PluginsTomlError {
        let span = span.unwrap_or(0..0);
        let before = &self.source[..span.start.min(self.source.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let text = self
            .source
            .lines()
            .nth(line - 1)
            .unwrap_or("")
            .trim()
            .to_owned();
        PluginsTomlError::Invalid {
            path: self.path.clone(),
            line,
            column,
            text,
            message,
        }
    }

    fn read(&mut self, doc: &Table) -> Result<(), PluginsTomlError> {
        for (key, item) in doc.iter() {
            if !TOP_KEYS.contains(&key) {
                let span = doc.key(key).and_then(|k| k.span());
                return Err(self.invalid(
                    span,
                    format!("unknown key `{key}`; the known keys are `plugins`, `registries` and `allow`"),
                ));
            }
            if !item.is_table_like() {
                return Err(self.invalid(item.span(), format!("`{key}` must be a table")));
            }
        }
        if let Some(registries) = doc.get("registries").and_then(Item::as_table_like) {
            for (name, item) in registries.iter() {
                let index = item
                    .as_table_like()
                    .and_then(|t| t.get("index"))
                    .and_then(Item::as_str);
                let Some(index) = index else {
                    return Err(self.invalid(
                        item.span(),
                        format!("registry `{name}` needs `index = \"sparse+https://...\"`"),
                    ));
                };
                if let Some((key, _)) = item
                    .as_table_like()
                    .and_then(|t| t.iter().find(|(k, _)| *k != "index"))
                {
                    return Err(self.invalid(
                        item.span(),
                        format!(
                            "unknown key `{key}` in registry `{name}`; the known key is `index`"
                        ),
                    ));
                }
                self.registries.insert(name.to_owned(), index.to_owned());
            }
        }
        if let Some(allow) = doc.get("allow").and_then(Item::as_table_like) {
            for (key, item) in allow.iter() {
                let name =
                    PluginName::new(key).map_err(|e| self.invalid(item.span(), e.to_string()))?;
                let capabilities = item
                    .as_array()
                    .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| {
                        self.invalid(
                            item.span(),
                            format!("`allow.{key}` must be a list of capabilities, e.g. [\"net:connect=443\"]"),
                        )
                    })?;
                self.grants.insert(name, capabilities);
            }
        }
        if let Some(plugins) = doc.get("plugins").and_then(Item::as_table_like) {
            for (key, item) in plugins.iter() {
                let name = PluginName::new(key).map_err(|e| {
                    self.invalid(
                        plugins.key(key).and_then(|k| k.span()).or(item.span()),
                        e.to_string(),
                    )
                })?;
                let spec = self.spec(key, item)?;
                if self.plugins.insert(name, spec).is_some() {
                    return Err(self.invalid(
                        item.span(),
                        format!(
                            "plugin `{key}` is listed twice (`-` and `_`, and upper and lower case, are the same in names)"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn spec(&self, name: &str, item: &Item) -> Result<PluginSpec, PluginsTomlError> {
        let bad = |message: String| {
            self.invalid(
                item.span()
                    .or_else(|| item.as_value().and_then(Value::span)),
                message,
            )
        };
        let req = |text: &str| {
            VersionReq::parse(text).map_err(|e| {
                bad(format!(
                    "plugin `{name}`: `{text}` is not a version requirement: {e}"
                ))
            })
        };
        if let Some(text) = item.as_str() {
            return Ok(PluginSpec::Registry {
                req: req(text)?,
                registry: None,
            });
        }
        let Some(table) = item.as_table_like() else {
            return Err(bad(format!("plugin `{name}` must be a version requirement (\"0.2\") or a table ({{ git = \"...\" }})")));
        };
        let mut fields = BTreeMap::new();
        for (key, value) in table.iter() {
            if !SPEC_KEYS.contains(&key) {
                let known: Vec<String> = SPEC_KEYS.iter().map(|k| format!("`{k}`")).collect();
                return Err(bad(format!(
                    "plugin `{name}`: unknown key `{key}`; the known keys are {}",
                    known.join(", ")
                )));
            }
            let text = value
                .as_str()
                .ok_or_else(|| bad(format!("plugin `{name}`: `{key}` must be a string")))?;
            fields.insert(key, text.to_owned());
        }
        let refs: Vec<&str> = ["branch", "tag", "rev"]
            .into_iter()
            .filter(|k| fields.contains_key(k))
            .collect();
        if refs.len() > 1 {
            return Err(bad(format!(
                "plugin `{name}`: give at most one of `branch`, `tag` and `rev`"
            )));
        }
        match (fields.get("git"), fields.get("path")) {
            (Some(_), Some(_)) => Err(bad(format!(
                "plugin `{name}`: give `git` or `path`, not both"
            ))),
            (Some(url), None) => {
                if fields.contains_key("version") || fields.contains_key("registry") {
                    return Err(bad(format!(
                        "plugin `{name}`: a git plugin takes no `version` or `registry`"
                    )));
                }
                let reference = match refs.first() {
                    Some(&"branch") => GitReference::Branch(fields["branch"].clone()),
                    Some(&"tag") => GitReference::Tag(fields["tag"].clone()),
                    Some(_) => GitReference::Rev(fields["rev"].clone()),
                    None => GitReference::DefaultBranch,
                };
                Ok(PluginSpec::Git {
                    url: url.clone(),
                    reference,
                })
            }
            (None, Some(path)) => {
                if fields.len() > 1 {
                    return Err(bad(format!(
                        "plugin `{name}`: a path plugin takes only `path`"
                    )));
                }
                Ok(PluginSpec::Path {
                    path: PathBuf::from(path),
                })
            }
            (None, None) => {
                if !refs.is_empty() {
                    return Err(bad(format!("plugin `{name}`: `{}` needs `git`", refs[0])));
                }
                let registry = fields.get("registry").cloned();
                if let Some(r) = &registry {
                    if !self.registries.contains_key(r) {
                        return Err(bad(format!("plugin `{name}` names registry `{r}`, which `[registries]` does not define")));
                    }
                }
                let version = fields.get("version").ok_or_else(|| {
                    bad(format!("plugin `{name}` needs `version`, `git` or `path`"))
                })?;
                Ok(PluginSpec::Registry {
                    req: req(version)?,
                    registry,
                })
            }
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every plugin, by name.
    pub fn plugins(&self) -> &BTreeMap<PluginName, PluginSpec> {
        &self.plugins
    }

    /// Every named registry and its index URL.
    pub fn registries(&self) -> &BTreeMap<String, String> {
        &self.registries
    }

    /// The capabilities granted to each plugin (`[allow]`), as written.
    pub fn grants(&self) -> &BTreeMap<PluginName, Vec<String>> {
        &self.grants
    }

    /// Records the capabilities granted to `name` (none: removes its entry).
    pub fn set_grants(&mut self, name: &PluginName, capabilities: &[String]) {
        if !self.doc.contains_key("allow") {
            self.doc.insert("allow", Item::Table(Table::new()));
        }
        let table = self.doc["allow"]
            .as_table_like_mut()
            .expect("checked to be a table when read");
        let key = table
            .iter()
            .map(|(k, _)| k.to_owned())
            .find(|k| name.matches(k))
            .unwrap_or_else(|| name.normalized().to_owned());
        if capabilities.is_empty() {
            table.remove(&key);
            self.grants.remove(name);
        } else {
            let array: toml_edit::Array = capabilities.iter().map(String::as_str).collect();
            table.insert(&key, Item::Value(Value::Array(array)));
            self.grants.insert(name.clone(), capabilities.to_vec());
        }
        if table.is_empty() {
            self.doc.remove("allow");
        }
    }

    fn plugins_table(&mut self) -> &mut Table {
        if !self.doc.contains_key("plugins") {
            self.doc.insert("plugins", Item::Table(Table::new()));
        }
        self.doc["plugins"]
            .as_table_mut()
            .expect("checked to be a table when read")
    }

    /// The key under which `name` is written, `-`/`_` spelling as the user wrote it.
    fn existing_key(&self, name: &PluginName) -> Option<String> {
        let plugins = self.doc.get("plugins")?.as_table_like()?;
        plugins
            .iter()
            .map(|(k, _)| k.to_owned())
            .find(|k| name.matches(k))
    }

    /// Adds or replaces a plugin; the rest of the file stays as it was.
    pub fn set(&mut self, name: &PluginName, spec: PluginSpec) {
        let value = spec_value(&spec);
        let key = self
            .existing_key(name)
            .unwrap_or_else(|| name.normalized().to_owned());
        let table = self.plugins_table();
        match table.get_mut(&key).and_then(Item::as_value_mut) {
            Some(existing) => {
                // Keep the comment and spacing around the old value.
                let decor = existing.decor().clone();
                *existing = value;
                *existing.decor_mut() = decor;
            }
            None => {
                table.insert(&key, Item::Value(value));
            }
        }
        self.plugins.insert(name.clone(), spec);
    }

    /// Removes a plugin; true when it was there.
    pub fn remove(&mut self, name: &PluginName) -> bool {
        let Some(key) = self.existing_key(name) else {
            return false;
        };
        self.plugins_table().remove(&key);
        self.plugins.remove(name);
        if self.grants.contains_key(name) {
            self.set_grants(name, &[]);
        }
        true
    }
}

impl fmt::Display for PluginsToml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.doc)
    }
}

fn spec_value(spec: &PluginSpec) -> Value {
    match spec {
        PluginSpec::Registry {
            req,
            registry: None,
        } => Value::from(req.to_string()),
        PluginSpec::Registry {
            req,
            registry: Some(r),
        } => {
            let mut t = InlineTable::new();
            t.insert("version", req.to_string().into());
            t.insert("registry", r.as_str().into());
            Value::InlineTable(t)
        }
        PluginSpec::Git { url, reference } => {
            let mut t = InlineTable::new();
            t.insert("git", url.as_str().into());
            match reference {
                GitReference::DefaultBranch => {}
                GitReference::Branch(b) => {
                    t.insert("branch", b.as_str().into());
                }
                GitReference::Tag(tag) => {
                    t.insert("tag", tag.as_str().into());
                }
                GitReference::Rev(r) => {
                    t.insert("rev", r.as_str().into());
                }
            }
            Value::InlineTable(t)
        }
        PluginSpec::Path { path } => {
            let mut t = InlineTable::new();
            t.insert("path", path.to_string_lossy().as_ref().into());
            Value::InlineTable(t)
        }
    }
}
