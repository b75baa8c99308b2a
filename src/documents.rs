//! The JSON documents scopectl writes (`list`, `history`, `update --check`)
//! and the ones it reads from a host (`self-check --json`,
//! `pipelines --json`), as serde types. Every document is one object with a
//! `version` key; later releases only add keys, so readers accept keys they
//! do not know. The README shows each document; a test builds a real host
//! and checks that its output reads into these types without losing a key.

use scope_name::PluginName;
use serde::{Deserialize, Serialize};

/// The version every document carries.
pub const DOCUMENT_VERSION: u32 = 1;

/// `scopectl list --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ListDocument {
    /// [`DOCUMENT_VERSION`].
    pub version: u32,
    /// The installed plugins, by name.
    pub plugins: Vec<ListedPlugin>,
}

/// One installed plugin.
#[derive(Debug, Clone, Serialize)]
pub struct ListedPlugin {
    /// Its name.
    pub name: PluginName,
    /// Its version.
    pub version: String,
    /// `registry+NAME`, `git+URL#COMMIT` or `path+DIR`.
    pub source: String,
    /// `registry`, `git` or `path`: the `source` of `update --check --json`.
    pub kind: &'static str,
    /// Whether `scopectl reload` rebuilds it from its directory.
    pub editable: bool,
    /// An editable plugin whose sources changed since the active host was
    /// built (`scopectl sync` or `reload` builds them).
    pub edited: bool,
    /// The installed plugins that depend on it.
    pub dependency_of: Vec<PluginName>,
    /// The pipelines it registered in the active host.
    pub pipelines: Vec<String>,
    /// The capabilities granted to it (`[allow]` in plugins.toml).
    pub allow: Vec<String>,
}

/// `scopectl history --json`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryDocument {
    /// [`DOCUMENT_VERSION`].
    pub version: u32,
    /// Every generation, oldest first.
    pub generations: Vec<HistoryEntry>,
}

/// One generation.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// Its number.
    pub number: u64,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The command line that made it.
    pub command: String,
    /// What changed, one line each.
    pub changes: Vec<String>,
    /// The same, structured.
    pub changed: Vec<ChangeEntry>,
    /// Whether it is active.
    pub current: bool,
    /// Times the health gate switched back from it (`--gate`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<crate::home::AutomaticRollback>,
}

/// One change of a generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeEntry {
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// `plugin`, or `crate` for a third-party crate of the host.
    pub what: &'static str,
    /// Its name.
    pub name: String,
    /// The version (or commit) before; none for an addition.
    pub from: Option<String>,
    /// The version (or commit) after; none for a removal.
    pub to: Option<String>,
}

impl ChangeEntry {
    /// Reads one of the lines a change records (`+ fx v1.0.0`, `- fx v1.0.0`,
    /// `~ fx v1.0.0 -> v1.1.0`, `~ fx v0.2.0 (abc -> def)`, `~ crate x v1 -> v2`).
    pub fn parse(line: &str) -> Option<ChangeEntry> {
        let (sign, rest) = line.split_once(' ')?;
        let (what, rest) = match rest.strip_prefix("crate ") {
            Some(rest) => ("crate", rest),
            None => ("plugin", rest),
        };
        let (name, rest) = rest.split_once(' ')?;
        let version = |v: &str| v.trim_start_matches('v').to_owned();
        let (kind, from, to) = match sign {
            "+" => ("added", None, Some(version(rest))),
            "-" => ("removed", Some(version(rest)), None),
            "~" => match rest.split_once(" -> ") {
                Some((from, to)) if !from.contains('(') => {
                    ("changed", Some(version(from)), Some(version(to)))
                }
                _ => {
                    // `v0.2.0 (abc -> def)`: the commits moved.
                    let commits = rest.split_once('(')?.1.trim_end_matches(')');
                    let (from, to) = commits.split_once(" -> ")?;
                    ("changed", Some(from.to_owned()), Some(to.to_owned()))
                }
            },
            _ => return None,
        };
        Some(ChangeEntry {
            kind,
            what,
            name: name.to_owned(),
            from,
            to,
        })
    }
}

/// `scopectl doctor --json`.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorDocument {
    /// [`DOCUMENT_VERSION`].
    pub version: u32,
    /// What was looked at, in order.
    pub checks: Vec<DoctorCheck>,
}

impl DoctorDocument {
    /// How many problems remain (not repaired).
    pub fn problems(&self) -> usize {
        self.checks.iter().filter(|c| c.status == "problem").count()
    }
}

/// One thing `doctor` looked at.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorCheck {
    /// `ok`, `note`, `problem` or `repaired`.
    pub status: &'static str,
    /// What was found (and, when repaired, what was done).
    pub message: String,
    /// A problem that `doctor --repair` fixes.
    pub repairable: bool,
}

/// `scopectl update --check --json`.
#[derive(Debug, Clone, Serialize)]
pub struct UpdatesDocument {
    /// [`DOCUMENT_VERSION`].
    pub version: u32,
    /// One row per installed plugin, by name.
    pub plugins: Vec<PluginUpdate>,
    /// Third-party crates of the host that could move within their
    /// requirements (`scopectl update` moves them), by name.
    pub crates: Vec<CrateUpdate>,
    /// Why the crates could not be checked, when they could not (`crates`
    /// is then empty).
    pub crates_error: Option<String>,
    /// Artifacts the update would change (a plugin's new version declares
    /// other data files), by plugin and name; absent when none would.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactUpdate>,
}

/// An artifact an update would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactUpdate {
    /// The plugin declaring it.
    pub plugin: String,
    /// Its name.
    pub name: String,
    /// The SHA-256 locked now (`null`: the update adds it).
    pub installed: Option<String>,
    /// The SHA-256 the update would fetch (`null`: the update drops it).
    pub updated: Option<String>,
}

/// A third-party crate of the host with a newer compatible version.
#[derive(Debug, Clone, Serialize)]
pub struct CrateUpdate {
    /// Its name.
    pub name: String,
    /// The version `resolved.lock` records.
    pub installed: String,
    /// The newest version its requirements allow.
    pub newest_compatible: String,
}

/// What `update --check` found for one plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginUpdate {
    /// Its name.
    pub name: PluginName,
    /// `registry`, `git` or `path`: the `kind` of `list --json`.
    pub source: &'static str,
    /// The source as `list --json` writes it (`registry+NAME`, `git+URL#COMMIT`, `path+DIR`).
    pub source_id: String,
    /// The installed version (the commit, for git plugins; see `version`).
    pub installed: String,
    /// The installed plugin's version, for every kind.
    pub version: String,
    /// The installed commit, for git plugins.
    pub commit: Option<String>,
    /// The newest version the constraints allow.
    pub newest_compatible: Option<String>,
    /// The newest version there is.
    pub newest: Option<String>,
    /// Whether `update` would move it; `null` when not checked.
    pub update_available: Option<bool>,
    /// Why the newest is out of reach, or why the plugin is skipped.
    pub reason: Option<String>,
    /// Why the check failed.
    pub error: Option<String>,
}

/// `scope-host self-check --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfCheck {
    /// The document's version.
    pub version: u32,
    /// Whether every plugin registered and no pipeline id is taken twice.
    pub ok: bool,
    /// The host runtime's version.
    pub host_version: String,
    /// The plugin API version the host provides.
    pub api_version: String,
    /// Each plugin and how its registration went.
    pub plugins: Vec<SelfCheckPlugin>,
    /// Every pipeline id.
    pub pipelines: Vec<String>,
    /// Pipeline ids registered by more than one plugin.
    pub duplicates: Vec<DuplicatePipeline>,
}

/// One plugin in a [`SelfCheck`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfCheckPlugin {
    /// Its crate name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Whether it registered.
    pub registered: bool,
    /// The pipelines it registered.
    pub pipelines: Vec<String>,
    /// What went wrong.
    pub errors: Vec<String>,
}

/// A pipeline id taken by several plugins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicatePipeline {
    /// The id.
    pub id: String,
    /// The plugins that registered it.
    pub plugins: Vec<String>,
}

/// `scope-host pipelines --json`, which `scopectl pipelines --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelinesDocument {
    /// The document's version.
    pub version: u32,
    /// The plugin API version the host provides.
    pub api_version: String,
    /// Every pipeline.
    pub pipelines: Vec<PipelineInfo>,
    /// Plugins that failed to register.
    pub errors: Vec<RegistrationError>,
}

/// One pipeline and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineInfo {
    /// Its id.
    pub id: String,
    /// The plugin that registered it.
    pub plugin: String,
    /// That plugin's version.
    pub plugin_version: String,
    /// Its display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Whether it takes `--prompt`.
    pub supports_prompts: bool,
    /// `text` and/or `video`.
    pub modes: Vec<String>,
    /// The mode it runs in unless told otherwise.
    pub default_mode: String,
    /// Whether a call may return another number of frames than it was
    /// given (declared by the pipeline; the frame contract).
    #[serde(default)]
    pub changes_frame_count: bool,
    /// The frames it returns per frames in, `[out, per]`, when it changes
    /// the number of frames.
    #[serde(default)]
    pub frames_out_per_in: Option<(u32, u32)>,
    /// Its parameters.
    pub params: Vec<ParamInfo>,
}

/// One parameter of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamInfo {
    /// Its key.
    pub key: String,
    /// `bool`, `integer`, `float`, `string` or `choice`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its default, in the parameter's type.
    pub default: serde_json::Value,
    /// The inclusive lower bound, if any.
    pub min: serde_json::Value,
    /// The inclusive upper bound, if any.
    pub max: serde_json::Value,
    /// The choices, for `choice`.
    pub options: Option<Vec<String>>,
    /// What it does.
    pub description: String,
    /// Hints for a user interface.
    pub ui: ParamUi,
}

/// A parameter's user-interface hints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamUi {
    /// Display order, lower first.
    pub order: Option<i64>,
    /// The modes in which it applies; empty is every mode.
    pub modes: Vec<String>,
    /// Whether it is given when the pipeline loads.
    pub is_load_param: bool,
    /// A short label.
    pub label: Option<String>,
    /// `configuration` or `input`.
    pub category: String,
}

/// A plugin whose registration failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationError {
    /// The plugin.
    pub plugin: String,
    /// What went wrong.
    pub error: String,
}

/// How both documents name a pin's source: its kind, and the source in full.
pub fn source_of(source: &scope_lockfile::PinSource) -> (&'static str, String) {
    use scope_lockfile::PinSource;
    match source {
        PinSource::Registry { registry, .. } => ("registry", format!("registry+{registry}")),
        PinSource::Git { url, commit, .. } => ("git", format!("git+{url}#{commit}")),
        PinSource::Path { path } => ("path", format!("path+{}", path.display())),
    }
}

/// Writes a document as one line of JSON.
pub fn to_line<T: Serialize>(document: &T) -> String {
    serde_json::to_string(document).expect("documents serialise")
}

#[cfg(test)]
mod tests {
    use super::ChangeEntry;

    #[test]
    fn every_recorded_change_line_reads_back_structured() {
        let read = |line: &str| {
            let c = ChangeEntry::parse(line).unwrap();
            (c.kind, c.what, c.name, c.from, c.to)
        };
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            read("+ fx v1.0.0"),
            ("added", "plugin", "fx".into(), None, some("1.0.0"))
        );
        assert_eq!(
            read("- fx v1.0.0"),
            ("removed", "plugin", "fx".into(), some("1.0.0"), None)
        );
        assert_eq!(
            read("~ fx v1.0.0 -> v1.1.0"),
            (
                "changed",
                "plugin",
                "fx".into(),
                some("1.0.0"),
                some("1.1.0")
            )
        );
        assert_eq!(
            read("~ fx v0.2.0 (abcdef12 -> 12345678)"),
            (
                "changed",
                "plugin",
                "fx".into(),
                some("abcdef12"),
                some("12345678")
            )
        );
        assert_eq!(
            read("~ crate helper v1.0.0 -> v1.1.0"),
            (
                "changed",
                "crate",
                "helper".into(),
                some("1.0.0"),
                some("1.1.0")
            )
        );
        assert!(ChangeEntry::parse("rebuilt").is_none());
    }
}
