//! The OCI image layout on disk (`oci-layout`, `index.json`,
//! `blobs/sha256/…`), as a directory or a tar of one.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{verify, Artifact, Descriptor, Generation, ARTIFACT_TYPE, MANIFEST_TYPE};
use crate::error::Hinted;
use crate::signing::{cosign, PublicKey, Verified};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

fn blob_path(dir: &Path, digest: &str) -> Result<std::path::PathBuf> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        bail!("unsupported digest `{digest}`: only sha256 is read");
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("`{digest}` is not a sha256 digest");
    }
    Ok(dir.join("blobs/sha256").join(hex))
}

/// Writes `artifact` into `dir` as an OCI image layout, tagged `tag`;
/// its cosign `signature`, when given, beside it in the same index under
/// the tag cosign gives it (`sha256-<hex>.sig`).
pub fn write(
    dir: &Path,
    artifact: &Artifact,
    tag: &str,
    signature: Option<&Artifact>,
) -> Result<()> {
    fs_err::create_dir_all(dir.join("blobs/sha256"))?;
    fs_err::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut manifests = vec![write_manifest(dir, artifact, tag, Some(ARTIFACT_TYPE))?];
    if let Some(signature) = signature {
        let tag = cosign::signature_tag(&artifact.digest());
        manifests.push(write_manifest(dir, signature, &tag, None)?);
    }
    let index = Index {
        schema_version: 2,
        media_type: Some("application/vnd.oci.image.index.v1+json".to_owned()),
        manifests,
    };
    fs_err::write(dir.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(())
}

/// Writes the blobs and manifest of `artifact`; its index entry.
fn write_manifest(
    dir: &Path,
    artifact: &Artifact,
    tag: &str,
    artifact_type: Option<&str>,
) -> Result<Descriptor> {
    let mut manifest = Descriptor {
        media_type: MANIFEST_TYPE.to_owned(),
        digest: artifact.digest(),
        size: artifact.manifest.len() as u64,
        artifact_type: artifact_type.map(str::to_owned),
        annotations: Default::default(),
    };
    manifest
        .annotations
        .insert(REF_NAME.to_owned(), tag.to_owned());
    fs_err::write(blob_path(dir, &manifest.digest)?, &artifact.manifest)?;
    for (digest, (_, bytes)) in &artifact.blobs {
        fs_err::write(blob_path(dir, digest)?, bytes)?;
    }
    Ok(manifest)
}

/// Writes `artifact` as a tar of an OCI image layout.
pub fn write_tar(
    file: &Path,
    artifact: &Artifact,
    tag: &str,
    signature: Option<&Artifact>,
) -> Result<()> {
    let staging = tempfile::tempdir()?;
    write(staging.path(), artifact, tag, signature)?;
    let out = fs_err::File::create(file)?;
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(".", staging.path())
        .with_context(|| format!("cannot write {}", file.display()))?;
    tar.into_inner()?.sync_all()?;
    Ok(())
}

/// Reads and verifies the generation in a layout directory or a tar of
/// one; with `keys`, its signature first.
pub fn read(path: &Path, keys: &[PublicKey]) -> Result<Generation> {
    let opened = Opened::at(path)?;
    let signed_by = if keys.is_empty() {
        None
    } else {
        Some(opened.check_signature(keys)?)
    };
    let mut generation = verify(&opened.manifest, |layer| opened.blob(layer))?;
    generation.signed_by = signed_by;
    Ok(generation)
}

/// Checks the signature of the generation in a layout (or a tar of one).
pub fn verify_signature(path: &Path, keys: &[PublicKey]) -> Result<Verified> {
    Opened::at(path)?.check_signature(keys)
}

/// A layout, unpacked when it was a tar, with its generation's manifest
/// read and checked against the index.
struct Opened {
    dir: std::path::PathBuf,
    _unpacked: Option<tempfile::TempDir>,
    index: Index,
    manifest: Vec<u8>,
}

impl Opened {
    fn at(path: &Path) -> Result<Opened> {
        let (dir, unpacked) = if path.is_dir() {
            (path.to_path_buf(), None)
        } else {
            let file = fs_err::File::open(path)?;
            let unpacked = tempfile::tempdir()?;
            // `unpack` keeps every entry inside the directory (no `..`, no
            // absolute paths).
            tar::Archive::new(file)
                .unpack(unpacked.path())
                .with_context(|| {
                    format!("{} is not a tar of an OCI image layout", path.display())
                })?;
            (unpacked.path().to_path_buf(), Some(unpacked))
        };
        let index_path = dir.join("index.json");
        if !dir.join("oci-layout").is_file() || !index_path.is_file() {
            bail!(Hinted::new(
                format!("{} is not an OCI image layout (no `oci-layout` and `index.json`)", path.display()),
                "give a directory written by `scopectl export --oci-layout` or `skopeo copy … oci:DIR`, or a tar of one",
            ));
        }
        let index: Index = serde_json::from_slice(&fs_err::read(&index_path)?)
            .context("index.json is not an OCI image index")?;
        let signatures = |m: &&Descriptor| {
            m.annotations
                .get(REF_NAME)
                .is_some_and(|tag| tag.ends_with(".sig"))
        };
        let candidates: Vec<&Descriptor> =
            index.manifests.iter().filter(|m| !signatures(m)).collect();
        let manifest = match candidates.as_slice() {
            [one] => *one,
            [] => bail!("the layout's index.json lists no manifest"),
            many => many
                .iter()
                .find(|m| m.artifact_type.as_deref() == Some(ARTIFACT_TYPE))
                .unwrap_or(&many[0]),
        };
        let manifest_bytes = fs_err::read(blob_path(&dir, &manifest.digest)?)?;
        manifest.verify(&manifest_bytes)?;
        Ok(Opened {
            dir,
            _unpacked: unpacked,
            index,
            manifest: manifest_bytes,
        })
    }

    fn blob(&self, layer: &Descriptor) -> Result<Vec<u8>> {
        fs_err::read(blob_path(&self.dir, &layer.digest)?).map_err(Into::into)
    }

    fn check_signature(&self, keys: &[PublicKey]) -> Result<Verified> {
        let signed = super::digest(&self.manifest);
        let tag = cosign::signature_tag(&signed);
        let signatures = self
            .index
            .manifests
            .iter()
            .find(|m| m.annotations.get(REF_NAME) == Some(&tag))
            .map(|m| {
                let bytes = fs_err::read(blob_path(&self.dir, &m.digest)?)?;
                m.verify(&bytes)?;
                anyhow::Ok(bytes)
            })
            .transpose()?;
        cosign::verify(&signed, signatures.as_deref(), keys, |layer| {
            self.blob(layer)
        })
    }
}
