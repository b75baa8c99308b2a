//! The provenance of a generation as an in-toto v1 Statement with an SLSA
//! v1 provenance predicate: its subject is the host binary; it names the
//! builder (scopectl and rustc versions), the `resolved.lock` digest and the
//! source of every plugin. Signed, it travels in a DSSE envelope signed
//! with the generation's key (the signature is over DSSE's PAE encoding).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use scope_lockfile::{Lockfile, PinSource};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::provenance::Provenance;
use crate::signing::SigningKey;

pub const STATEMENT_TYPE: &str = "application/vnd.in-toto+json";
pub const ENVELOPE_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
const BUILD_TYPE: &str = "urn:scopectl:host-build:v1";

fn hex_sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The statement for a host (`host` bytes) built from `lock`.
pub fn statement(
    host: &[u8],
    lock_bytes: &[u8],
    lock: &Lockfile,
    provenance: &Provenance,
) -> Value {
    let mut resolved = vec![json!({
        "name": "resolved.lock",
        "digest": { "sha256": hex_sha256(lock_bytes) },
    })];
    for pin in &lock.plugins {
        let (uri, digest) = match &pin.source {
            PinSource::Registry { registry, checksum } => (
                format!(
                    "pkg:cargo/{}@{}?repository_url={registry}",
                    pin.name, pin.version
                ),
                json!({ "sha256": checksum }),
            ),
            PinSource::Git { url, commit, .. } => (
                format!("git+{url}@{commit}"),
                json!({ "gitCommit": commit }),
            ),
            PinSource::Path { path } => (format!("file:{}", path.display()), json!({})),
        };
        resolved.push(json!({ "name": pin.name.to_string(), "uri": uri, "digest": digest }));
    }
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "scope-host", "digest": { "sha256": hex_sha256(host) } }],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "command": provenance.command,
                    "generation": provenance.generation,
                },
                "internalParameters": {
                    "target": provenance.target,
                    "api_version": provenance.api_version,
                },
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {
                    "id": format!("urn:scopectl:{}", provenance.scopectl_version),
                    "version": {
                        "scopectl": provenance.scopectl_version,
                        "rustc": provenance.rustc.clone().unwrap_or_default(),
                    },
                },
                "metadata": { "finishedOn": provenance.built },
            },
        },
    })
}

/// DSSE's pre-authentication encoding of `payload` of type `kind`.
pub fn pae(kind: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {kind} {} ", kind.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// `statement` in a DSSE envelope signed with `key`.
pub fn envelope(statement: &[u8], key: &SigningKey) -> anyhow::Result<Vec<u8>> {
    let signature = key.sign(&pae(STATEMENT_TYPE, statement))?;
    Ok(serde_json::to_vec(&json!({
        "payloadType": STATEMENT_TYPE,
        "payload": BASE64.encode(statement),
        "signatures": [{ "keyid": "", "sig": BASE64.encode(signature) }],
    }))?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pae_is_dsses() {
        assert_eq!(
            super::pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }
}
