//! The provenance document of an exported generation: what made it and
//! what it needs to run.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// `provenance.json`, one of an artifact's layers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    pub version: u32,
    pub scopectl_version: String,
    /// The plugin API the host implements.
    pub api_version: String,
    /// The target the host is built for (`x86_64-unknown-linux-gnu`).
    pub target: String,
    /// The newest glibc symbol version the host needs (`2.34`); `None` for
    /// a host that needs none (musl, static).
    pub glibc: Option<String>,
    /// `rustc -vV` where it was exported, when a rustc is there.
    pub rustc: Option<String>,
    /// When the generation was built (RFC 3339).
    pub built: String,
    /// The generation's history entry.
    pub generation: u64,
    pub command: String,
    pub changes: Vec<String>,
    /// Every plugin pin, as `resolved.lock` has it: name, version, source.
    pub plugins: Vec<PluginProvenance>,
    /// The path plugins: pinned by their sources' fingerprint, they cannot
    /// be rebuilt from source elsewhere.
    pub not_rebuildable: Vec<String>,
    /// The SHA-256 of each other layer, by title.
    pub layers: Vec<LayerDigest>,
}

/// One plugin of the generation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PluginProvenance {
    pub name: String,
    pub version: String,
    pub source: String,
}

/// A layer's title and digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerDigest {
    pub title: String,
    pub digest: String,
}

/// The newest `GLIBC_x.y` symbol version named in a binary.
pub fn glibc_needed(binary: &[u8]) -> Option<String> {
    const TAG: &[u8] = b"GLIBC_";
    let mut newest: Option<(u32, u32)> = None;
    let mut at = 0;
    while let Some(found) = find(&binary[at..], TAG) {
        let start = at + found + TAG.len();
        let digits: Vec<u8> = binary[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .copied()
            .collect();
        if let Some(version) = parse_version(&String::from_utf8_lossy(&digits)) {
            newest = newest.max(Some(version));
        }
        at = start;
    }
    newest.map(|(major, minor)| format!("{major}.{minor}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `2.34` → (2, 34).
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

/// The glibc of this machine (`getconf GNU_LIBC_VERSION`: `glibc 2.36`).
pub fn glibc_here() -> Option<String> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.strip_prefix("glibc ").map(|v| v.trim().to_owned())
}

/// `rustc -vV`, when a rustc is there.
pub fn rustc_version() -> Option<String> {
    let out = Command::new("rustc").arg("-vV").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_glibc_version_is_found() {
        let binary = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_PRIVATE\0GLIBC_2.17\0";
        assert_eq!(glibc_needed(binary), Some("2.34".into()));
        assert_eq!(glibc_needed(b"musl"), None);
        assert!(parse_version("2.36") > parse_version("2.4"));
    }
}
