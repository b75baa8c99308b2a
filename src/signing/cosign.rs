//! cosign's signatures of an image: a "simple signing" payload naming the
//! manifest's digest, signed, stored as the one layer of an OCI manifest
//! tagged `sha256-<hex>.sig` beside the signed one (cosign's `triangulate`
//! names that tag), the signature in the layer's
//! `dev.cosignproject.cosign/signature` annotation, base64 of ASN.1 DER.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Serialize;

use super::key::{PublicKey, SigningKey};
use crate::error::Hinted;
use crate::oci::{digest, Artifact, Descriptor, Manifest, MANIFEST_TYPE};

pub const PAYLOAD_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const SIGNATURE_TYPE: &str = "cosign container image signature";

/// The tag that holds the signatures of the manifest `digest`
/// (`sha256:abc…` → `sha256-abc….sig`).
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The simple-signing payload that says `identity` is the image `digest`.
pub fn payload(identity: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": identity},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": null,
    }))
    .expect("JSON of JSON")
}

/// The signature manifest and its blobs for the manifest `digest`, signed
/// with `key`; `identity` is the repository it is pushed to.
pub fn sign(key: &SigningKey, identity: &str, signed: &str) -> Result<Artifact> {
    let payload = payload(identity, signed);
    let signature = BASE64.encode(key.sign(&payload)?);
    let mut layer = Descriptor::of(PAYLOAD_TYPE, &payload, None);
    layer
        .annotations
        .insert(SIGNATURE_ANNOTATION.to_owned(), signature);
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'a str,
        os: &'a str,
        config: serde_json::Value,
        rootfs: serde_json::Value,
    }
    let config = serde_json::to_vec(&Config {
        architecture: "",
        os: "",
        config: serde_json::json!({}),
        rootfs: serde_json::json!({"type": "layers", "diff_ids": [layer.digest]}),
    })?;
    let config_descriptor = Descriptor::of(CONFIG_TYPE, &config, None);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_TYPE.to_owned(),
        artifact_type: None,
        config: config_descriptor.clone(),
        layers: vec![layer.clone()],
        annotations: BTreeMap::new(),
    };
    let blobs = BTreeMap::from([
        (layer.digest.clone(), (layer, payload)),
        (
            config_descriptor.digest.clone(),
            (config_descriptor, config),
        ),
    ]);
    Ok(Artifact {
        manifest: serde_json::to_vec(&manifest)?,
        blobs,
    })
}

/// Who signed: the key that verified.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub digest: String,
    pub key: String,
}

/// Checks the signature manifest `signatures` (None: there is none) of
/// the manifest `signed` against `keys`; `fetch` gets a layer's bytes.
pub fn verify(
    signed: &str,
    signatures: Option<&[u8]>,
    keys: &[PublicKey],
    mut fetch: impl FnMut(&Descriptor) -> Result<Vec<u8>>,
) -> Result<Verified> {
    let tried = keys
        .iter()
        .map(|k| k.path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let refuse = |why: String| -> anyhow::Error {
        Hinted::new(
            format!("{signed} is not signed by a trusted key ({tried}): {why}; nothing was changed"),
            "sign it with `scopectl push --sign KEY` (or `export --sign KEY`) using a key whose `.pub` this machine trusts",
        )
        .into()
    };
    let Some(signatures) = signatures else {
        return Err(refuse(format!(
            "there is no signature (no `{}` beside it)",
            signature_tag(signed)
        )));
    };
    let manifest: Manifest = serde_json::from_slice(signatures)
        .map_err(|e| refuse(format!("its signature manifest does not read ({e})")))?;
    let mut problems = Vec::new();
    for layer in manifest
        .layers
        .iter()
        .filter(|l| l.media_type == PAYLOAD_TYPE)
    {
        match check_layer(signed, layer, keys, &mut fetch) {
            Ok(key) => {
                return Ok(Verified {
                    digest: signed.to_owned(),
                    key: key.path.display().to_string(),
                })
            }
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    if problems.is_empty() {
        problems.push("its signature manifest has no simple-signing layer".into());
    }
    Err(refuse(problems.join("; ")))
}

fn check_layer<'k>(
    signed: &str,
    layer: &Descriptor,
    keys: &'k [PublicKey],
    fetch: &mut impl FnMut(&Descriptor) -> Result<Vec<u8>>,
) -> Result<&'k PublicKey> {
    let payload = fetch(layer)?;
    if digest(&payload) != layer.digest {
        bail!("the signed payload does not match its digest");
    }
    let signature = layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .context("a layer has no signature annotation")?;
    let signature = BASE64
        .decode(signature.trim())
        .ok()
        .context("the signature is not base64")?;
    let Some(key) = keys.iter().find(|k| k.verifies(&payload, &signature)) else {
        bail!("the signature does not verify with any of the keys");
    };
    let payload: serde_json::Value =
        serde_json::from_slice(&payload).context("the signed payload is not JSON")?;
    let critical = &payload["critical"];
    if critical["type"] != SIGNATURE_TYPE {
        bail!("the signed payload is not a cosign image signature");
    }
    let named = critical["image"]["docker-manifest-digest"]
        .as_str()
        .unwrap_or("");
    if named != signed {
        bail!("the signature is of another manifest ({named})");
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_cosigns() {
        assert_eq!(signature_tag("sha256:abc"), "sha256-abc.sig");
    }
}
