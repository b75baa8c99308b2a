//! `[package.metadata.scope.artifacts]`: the data files a plugin declares,
//! each with the checksum and size it must have. Nothing unverified is ever
//! fetched: a declaration without them is refused.
//!
//! ```toml
//! [package.metadata.scope.artifacts]
//! weights = { url = "https://example.org/w.bin", sha256 = "…", size = 67108864 }
//! luts = { url = "https://example.org/luts.tar.gz", sha256 = "…", size = 1024, unpack = "tar.gz", mirrors = ["https://mirror.example.org/luts.tar.gz"] }
//! ```

use std::path::Path;

use anyhow::{bail, Context, Result};

/// One declared artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The name the plugin asks for it by (`load.artifact("weights")`).
    pub name: String,
    /// Where it is fetched from: `https://`, `http://` (loopback only),
    /// `file://`, or a path relative to the plugin's directory.
    pub url: String,
    /// Other places with the same bytes, tried in order after `url`.
    pub mirrors: Vec<String>,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// `tar.gz`: verified, then unpacked into a read-only directory.
    pub unpack: bool,
}

impl From<&scope_lockfile::ArtifactPin> for Declared {
    /// An artifact as a lock pinned it (fetched from the URL it came from).
    fn from(pin: &scope_lockfile::ArtifactPin) -> Declared {
        Declared {
            name: pin.name.clone(),
            url: pin.url.clone(),
            mirrors: Vec::new(),
            sha256: pin.sha256.clone(),
            size: pin.size,
            unpack: pin.unpack,
        }
    }
}

const FORM: &str = "write `name = { url = \"…\", sha256 = \"<64 hex digits>\", size = BYTES }` (optional: `mirrors = [\"…\"]`, `unpack = \"tar.gz\"`)";

/// The artifacts `metadata` (`[package.metadata]` as JSON) declares for the
/// plugin `plugin` in `dir`.
pub fn parse(plugin: &str, dir: &Path, metadata: &serde_json::Value) -> Result<Vec<Declared>> {
    let table = match &metadata["scope"]["artifacts"] {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Object(table) => table,
        other => bail!("`{plugin}` has `[package.metadata.scope] artifacts = {other}`; it must be a table of artifacts: {FORM}"),
    };
    let mut declared = Vec::new();
    for (name, entry) in table {
        let what = format!("artifact `{name}` of plugin `{plugin}`");
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid_name {
            bail!("{what}: a name is up to 64 letters, digits, `-`, `_` and `.`");
        }
        let text = |key: &str| entry[key].as_str().map(str::to_owned);
        let url = text("url").with_context(|| format!("{what} has no `url`; {FORM}"))?;
        let sha256 = text("sha256").with_context(|| {
            format!("{what} has no `sha256`: nothing unverified is fetched; {FORM}")
        })?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{what}: `sha256 = \"{sha256}\"` is not 64 hex digits");
        }
        let size = entry["size"].as_u64().with_context(|| {
            format!("{what} has no `size` (in bytes): nothing unverified is fetched; {FORM}")
        })?;
        let unpack = match text("unpack").as_deref() {
            None => false,
            Some("tar.gz") => true,
            Some(other) => {
                bail!("{what}: `unpack = \"{other}\"`; the one archive form is `tar.gz`")
            }
        };
        let mirrors = match &entry["mirrors"] {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|m| m.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .with_context(|| format!("{what}: `mirrors` is a list of URLs"))?,
            _ => bail!("{what}: `mirrors` is a list of URLs"),
        };
        let local = |url: &str| !url.contains("://");
        let url = if local(&url) {
            format!("file://{}", dir.join(&url).display())
        } else {
            url
        };
        declared.push(Declared {
            name: name.clone(),
            url,
            mirrors,
            sha256: sha256.to_ascii_lowercase(),
            size,
            unpack,
        });
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_declaration_reads_with_its_checksum_size_and_mirrors() {
        let metadata = json!({"scope": {"artifacts": {
            "weights": {"url": "https://example.org/w.bin", "sha256": HEX.to_uppercase(), "size": 4,
                        "mirrors": ["https://m.example.org/w.bin"]},
            "luts": {"url": "data/luts.tar.gz", "sha256": HEX, "size": 9, "unpack": "tar.gz"},
        }}});
        let declared = parse("fx", Path::new("/src/fx"), &metadata).unwrap();
        assert_eq!(declared.len(), 2);
        let luts = declared.iter().find(|d| d.name == "luts").unwrap();
        assert_eq!(luts.url, "file:///src/fx/data/luts.tar.gz");
        assert!(luts.unpack);
        let weights = declared.iter().find(|d| d.name == "weights").unwrap();
        assert_eq!(weights.sha256, HEX);
        assert_eq!(weights.mirrors, ["https://m.example.org/w.bin"]);
    }

    #[test]
    fn what_cannot_be_verified_is_refused() {
        for (entry, says) in [
            (
                json!({"url": "https://x/w", "size": 4}),
                "has no `sha256`: nothing unverified",
            ),
            (
                json!({"url": "https://x/w", "sha256": HEX}),
                "has no `size`",
            ),
            (json!({"sha256": HEX, "size": 4}), "has no `url`"),
            (
                json!({"url": "https://x/w", "sha256": "abc", "size": 4}),
                "is not 64 hex digits",
            ),
            (
                json!({"url": "https://x/w", "sha256": HEX, "size": 4, "unpack": "zip"}),
                "`tar.gz`",
            ),
        ] {
            let metadata = json!({"scope": {"artifacts": {"w": entry}}});
            let err = parse("fx", Path::new("/p"), &metadata)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
            assert!(err.contains("artifact `w` of plugin `fx`"), "{err}");
        }
    }
}
