//! The JSON bodies the HTTP API takes, read strictly: unknown fields and
//! bad JSON are refused with serde's message; an empty body is `{}`.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// The body as JSON of type `T`, or the message for a 400 answer.
pub fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| format!("bad request body: {e}"))
}

/// `POST /v1/plugins`: what `scopectl install` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// The plugin spec.
    pub spec: String,
    /// `--registry`.
    #[serde(default)]
    pub registry: Option<String>,
    /// `--branch`.
    #[serde(default)]
    pub branch: Option<String>,
    /// `--tag`.
    #[serde(default)]
    pub tag: Option<String>,
    /// `--rev`.
    #[serde(default)]
    pub rev: Option<String>,
    /// `--dry-run`.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /v1/update`: the plugins to update (none: all).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// Plugin names.
    #[serde(default)]
    pub names: Vec<String>,
}

/// A body that must be empty or `{}` (`POST /v1/sync`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// `POST /v1/rollback`: the generation to go back to (none: the previous).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// Generation number.
    #[serde(default)]
    pub to: Option<u64>,
}

/// `POST /v1/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Import {
    /// `oci://REGISTRY/REPOSITORY:TAG`, or a layout or tar on the server.
    #[serde(rename = "ref")]
    pub reference: String,
}

/// `POST /v1/stream/params` and `/v1/stream/restart`:
/// `{"params": {"[PIPELINE.]KEY": VALUE, …}}`, as `--set` takes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Parameter values by key.
    #[serde(default)]
    pub params: serde_json::Map<String, Value>,
}

impl Params {
    /// The values as `--set` arguments (`KEY=VALUE`).
    pub fn sets(self) -> Vec<String> {
        self.params
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(s) => format!("{key}={s}"),
                other => format!("{key}={other}"),
            })
            .collect()
    }
}
