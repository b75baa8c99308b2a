//! A generation as an OCI artifact: an image-spec manifest of its own
//! `artifactType`, whose layers are the host binary, `plugins.toml`,
//! `resolved.lock` and a provenance document. Written as an OCI image
//! layout (optionally tarred) or pushed to a registry ([`registry`]);
//! read back with every digest verified.

pub mod attestation;
pub mod distribution;
pub mod layout;
pub mod provenance;
pub mod registry;
pub mod sbom;

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::Hinted;
use crate::home::Home;
use provenance::{LayerDigest, PluginProvenance, Provenance};

/// The `artifactType` of an exported generation.
pub const ARTIFACT_TYPE: &str = "application/vnd.scope.generation.v1+json";
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
const HOST_TYPE: &str = "application/vnd.scope.host.v1";
const PLUGINS_TYPE: &str = "application/vnd.scope.plugins.v1+toml";
const LOCK_TYPE: &str = "application/vnd.scope.lock.v1+toml";
const PROVENANCE_TYPE: &str = "application/vnd.scope.provenance.v1+json";
pub const SBOM_TYPE: &str = "application/vnd.cyclonedx+json";
/// A plugin's data file (its digest is the SHA-256 `resolved.lock` pins).
const ARTIFACT_LAYER_TYPE: &str = "application/vnd.scope.artifact.v1";
const TITLE: &str = "org.opencontainers.image.title";

/// A content descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub(crate) fn of(media_type: &str, bytes: &[u8], title: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: digest(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: title
                .map(|t| BTreeMap::from([(TITLE.to_owned(), t.to_owned())]))
                .unwrap_or_default(),
        }
    }

    /// Checks that `bytes` are what this descriptor names.
    pub fn verify(&self, bytes: &[u8]) -> Result<()> {
        let actual = digest(bytes);
        if actual != self.digest || bytes.len() as u64 != self.size {
            bail!(Hinted::new(
                format!(
                    "blob {} does not match its digest: it hashes to {actual} ({} bytes, {} expected); it was damaged or tampered with",
                    self.digest,
                    bytes.len(),
                    self.size
                ),
                "nothing was changed; fetch or export the generation again",
            ));
        }
        Ok(())
    }
}

/// An OCI image manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    pub media_type: String,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// A generation as blobs: the manifest and everything it names.
pub struct Artifact {
    pub manifest: Vec<u8>,
    /// By digest: the config and the layers.
    pub blobs: BTreeMap<String, (Descriptor, Vec<u8>)>,
}

impl Artifact {
    /// The manifest's digest: the artifact's identity.
    pub fn digest(&self) -> String {
        digest(&self.manifest)
    }

    /// Generation `n` of `home` (the active one by default), with its SBOM
    /// (licences from `licences`) and its in-toto provenance statement,
    /// in a DSSE envelope signed with `key` when one is given; with its
    /// plugins' artifacts as layers, read from `store`, when one is given
    /// (none: they stay references, fetched by the importer).
    pub fn of_generation(
        home: &Home,
        n: Option<u64>,
        licences: &sbom::Licences,
        key: Option<&crate::signing::SigningKey>,
        store: Option<&crate::artifacts::Store>,
    ) -> Result<Artifact> {
        let n = match n.or_else(|| home.current()) {
            Some(n) => n,
            None => bail!(Hinted::new(
                format!("no generation is active in {}", home.root().display()),
                "install a plugin first, or name one with --generation N",
            )),
        };
        let info = home.generation(n)?;
        let dir = home.generation_dir(n);
        let host = fs_err::read(dir.join(crate::home::HOST_BINARY))?;
        let plugins_toml = fs_err::read(dir.join("plugins.toml"))?;
        let resolved_lock = fs_err::read(dir.join("resolved.lock"))?;
        let lock_path = dir.join("resolved.lock");
        let lock =
            scope_lockfile::Lockfile::parse(&lock_path, &String::from_utf8_lossy(&resolved_lock))?;
        let files = [
            (HOST_TYPE, "scope-host", host.as_slice()),
            (PLUGINS_TYPE, "plugins.toml", plugins_toml.as_slice()),
            (LOCK_TYPE, "resolved.lock", resolved_lock.as_slice()),
        ];
        let provenance = Provenance {
            version: 1,
            scopectl_version: env!("CARGO_PKG_VERSION").to_owned(),
            api_version: scope_plugin_api::API_VERSION.to_owned(),
            target: env!("SCOPE_TARGET").to_owned(),
            glibc: provenance::glibc_needed(&host),
            rustc: provenance::rustc_version(),
            built: info.created.clone(),
            generation: n,
            command: info.command.clone(),
            changes: info.changes.clone(),
            plugins: lock
                .plugins
                .iter()
                .map(|p| PluginProvenance {
                    name: p.name.to_string(),
                    version: p.version.to_string(),
                    source: crate::documents::source_of(&p.source).1,
                })
                .collect(),
            not_rebuildable: lock
                .plugins
                .iter()
                .filter(|p| matches!(p.source, scope_lockfile::PinSource::Path { .. }))
                .map(|p| p.name.to_string())
                .collect(),
            layers: files
                .iter()
                .map(|(_, title, bytes)| LayerDigest {
                    title: (*title).to_owned(),
                    digest: digest(bytes),
                })
                .collect(),
        };
        let statement = attestation::statement(&host, &resolved_lock, &lock, &provenance);
        let statement = serde_json::to_vec(&statement)?;
        let (attestation_type, attestation_title, attestation) = match key {
            Some(key) => (
                attestation::ENVELOPE_TYPE,
                "provenance.intoto.dsse.json",
                attestation::envelope(&statement, key)?,
            ),
            None => (
                attestation::STATEMENT_TYPE,
                "provenance.intoto.json",
                statement,
            ),
        };
        let sbom = serde_json::to_vec_pretty(&sbom::cyclonedx(&lock, licences, &info.created))?;
        let provenance = serde_json::to_vec_pretty(&provenance)?;
        let mut blobs = BTreeMap::new();
        let mut layers = Vec::new();
        for (media_type, title, bytes) in files.iter().copied().chain([
            (PROVENANCE_TYPE, "provenance.json", provenance.as_slice()),
            (SBOM_TYPE, "sbom.cdx.json", sbom.as_slice()),
            (attestation_type, attestation_title, attestation.as_slice()),
        ]) {
            let descriptor = Descriptor::of(media_type, bytes, Some(title));
            layers.push(descriptor.clone());
            blobs.insert(descriptor.digest.clone(), (descriptor, bytes.to_vec()));
        }
        for pin in store.map_or(&[][..], |_| lock.artifacts.as_slice()) {
            let store = store.expect("checked above");
            let path = store.root().join("sha256").join(&pin.sha256);
            let bytes = fs_err::read(&path).map_err(|_| {
                Hinted::new(
                    format!(
                        "artifact `{}` of {} (sha256 {}) is not in this machine's store ({})",
                        pin.name,
                        pin.plugin,
                        pin.sha256,
                        store.root().display()
                    ),
                    "run `scopectl fetch`, or leave artifacts out with `--artifacts reference` (the importer fetches them)",
                )
            })?;
            let title = format!("{}/{}", pin.plugin, pin.name);
            let descriptor = Descriptor::of(ARTIFACT_LAYER_TYPE, &bytes, Some(&title));
            // One layer per distinct file: a registry stores each once.
            if !blobs.contains_key(&descriptor.digest) {
                layers.push(descriptor.clone());
                blobs.insert(descriptor.digest.clone(), (descriptor, bytes));
            }
        }
        let config = Descriptor::of(EMPTY_TYPE, b"{}", None);
        blobs.insert(config.digest.clone(), (config.clone(), b"{}".to_vec()));
        let manifest = Manifest {
            schema_version: 2,
            media_type: MANIFEST_TYPE.to_owned(),
            artifact_type: Some(ARTIFACT_TYPE.to_owned()),
            config,
            layers,
            annotations: BTreeMap::from([(
                "org.opencontainers.image.created".to_owned(),
                info.created,
            )]),
        };
        Ok(Artifact {
            manifest: serde_json::to_vec(&manifest)?,
            blobs,
        })
    }
}

/// An artifact read back and verified: what an import commits.
pub struct Generation {
    pub digest: String,
    pub host: Vec<u8>,
    pub plugins_toml: String,
    pub resolved_lock: String,
    pub provenance: Provenance,
    /// The key whose signature was verified, when one was asked for.
    pub signed_by: Option<crate::signing::Verified>,
    /// The artifacts it carries, verified: (SHA-256 hex, bytes).
    pub artifacts: Vec<(String, Vec<u8>)>,
}

/// Verifies a manifest and the blobs it names (`fetch` gets one by its
/// descriptor) and takes the generation out of them.
pub fn verify(
    manifest_bytes: &[u8],
    mut fetch: impl FnMut(&Descriptor) -> Result<Vec<u8>>,
) -> Result<Generation> {
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .context("the manifest is not an OCI image manifest")?;
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        bail!(Hinted::new(
            format!(
                "this is not a Scope generation: its artifact type is {}",
                manifest
                    .artifact_type
                    .as_deref()
                    .unwrap_or("not given (a container image?)")
            ),
            format!(
                "export one with `scopectl export` or `scopectl push`; its type is {ARTIFACT_TYPE}"
            ),
        ));
    }
    let mut by_type: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    let mut artifacts = Vec::new();
    for layer in &manifest.layers {
        let bytes = fetch(layer)?;
        layer.verify(&bytes)?;
        if layer.media_type == ARTIFACT_LAYER_TYPE {
            let hex = layer.digest.trim_start_matches("sha256:").to_owned();
            artifacts.push((hex, bytes));
            continue;
        }
        by_type.insert(layer.media_type.as_str(), bytes);
    }
    let mut take = |media_type: &str| {
        by_type
            .remove(media_type)
            .with_context(|| format!("the artifact has no {media_type} layer"))
    };
    let host = take(HOST_TYPE)?;
    let text = |bytes: Vec<u8>, what: &str| {
        String::from_utf8(bytes).with_context(|| format!("{what} is not text"))
    };
    let plugins_toml = text(take(PLUGINS_TYPE)?, "plugins.toml")?;
    let resolved_lock = text(take(LOCK_TYPE)?, "resolved.lock")?;
    let provenance: Provenance = serde_json::from_slice(&take(PROVENANCE_TYPE)?)
        .context("the provenance document does not read")?;
    Ok(Generation {
        digest: digest(manifest_bytes),
        host,
        plugins_toml,
        resolved_lock,
        provenance,
        signed_by: None,
        artifacts,
    })
}
