//! The OCI image layout on disk (`oci-layout`, `index.json`,
//! `blobs/sha256/…`), as a directory or a tar of one.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{verify, Artifact, Descriptor, Generation, ARTIFACT_TYPE, MANIFEST_TYPE};
use crate::error::Hinted;

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

/// Writes `artifact` into `dir` as an OCI image layout, tagged `tag`.
pub fn write(dir: &Path, artifact: &Artifact, tag: &str) -> Result<()> {
    fs_err::create_dir_all(dir.join("blobs/sha256"))?;
    fs_err::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut manifest = Descriptor {
        media_type: MANIFEST_TYPE.to_owned(),
        digest: artifact.digest(),
        size: artifact.manifest.len() as u64,
        artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        annotations: Default::default(),
    };
    manifest
        .annotations
        .insert(REF_NAME.to_owned(), tag.to_owned());
    fs_err::write(blob_path(dir, &manifest.digest)?, &artifact.manifest)?;
    for (digest, (_, bytes)) in &artifact.blobs {
        fs_err::write(blob_path(dir, digest)?, bytes)?;
    }
    let index = Index {
        schema_version: 2,
        media_type: Some("application/vnd.oci.image.index.v1+json".to_owned()),
        manifests: vec![manifest],
    };
    fs_err::write(dir.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(())
}

/// Writes `artifact` as a tar of an OCI image layout.
pub fn write_tar(file: &Path, artifact: &Artifact, tag: &str) -> Result<()> {
    let staging = tempfile::tempdir()?;
    write(staging.path(), artifact, tag)?;
    let out = fs_err::File::create(file)?;
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(".", staging.path())
        .with_context(|| format!("cannot write {}", file.display()))?;
    tar.into_inner()?.sync_all()?;
    Ok(())
}

/// Reads and verifies the generation in a layout directory or a tar of one.
pub fn read(path: &Path) -> Result<Generation> {
    if path.is_dir() {
        return read_dir(path);
    }
    let file = fs_err::File::open(path)?;
    let unpacked = tempfile::tempdir()?;
    // `unpack` keeps every entry inside the directory (no `..`, no
    // absolute paths).
    tar::Archive::new(file)
        .unpack(unpacked.path())
        .with_context(|| format!("{} is not a tar of an OCI image layout", path.display()))?;
    read_dir(unpacked.path())
}

fn read_dir(dir: &Path) -> Result<Generation> {
    let index = dir.join("index.json");
    if !dir.join("oci-layout").is_file() || !index.is_file() {
        bail!(Hinted::new(
            format!("{} is not an OCI image layout (no `oci-layout` and `index.json`)", dir.display()),
            "give a directory written by `scopectl export --oci-layout` or `skopeo copy … oci:DIR`, or a tar of one",
        ));
    }
    let index: Index = serde_json::from_slice(&fs_err::read(&index)?)
        .context("index.json is not an OCI image index")?;
    let manifest = match index.manifests.as_slice() {
        [one] => one,
        [] => bail!("the layout's index.json lists no manifest"),
        many => many
            .iter()
            .find(|m| m.artifact_type.as_deref() == Some(ARTIFACT_TYPE))
            .unwrap_or(&many[0]),
    };
    let manifest_bytes = fs_err::read(blob_path(dir, &manifest.digest)?)?;
    manifest.verify(&manifest_bytes)?;
    verify(&manifest_bytes, |layer| {
        fs_err::read(blob_path(dir, &layer.digest)?).map_err(Into::into)
    })
}
