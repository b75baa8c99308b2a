//! Where a host finds its plugins' data files: the content-addressed store
//! scopectl fills (`SCOPE_ARTIFACTS_DIR`, which scopectl sets for the hosts
//! it starts; else `$SCOPE_CACHE_DIR/artifacts`, `$XDG_CACHE_HOME/scope/artifacts`
//! or `~/.cache/scope/artifacts`, as scopectl chooses it).

use std::path::{Path, PathBuf};

use scope_plugin_api::Artifacts;

use crate::catalog::Artifact;

/// The store's directory, as the environment says.
#[allow(clippy::disallowed_methods)] // the host reads its own environment
pub fn store_dir() -> Option<PathBuf> {
    let var = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
    var("SCOPE_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .or_else(|| var("SCOPE_CACHE_DIR").map(|d| PathBuf::from(d).join("artifacts")))
        .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("scope/artifacts")))
        .or_else(|| var("HOME").map(|d| PathBuf::from(d).join(".cache/scope/artifacts")))
}

/// Where a verified artifact lies in the store at `store`.
pub fn path_in(store: &Path, artifact: &Artifact) -> PathBuf {
    match artifact.unpacked {
        true => store.join("unpacked").join(artifact.sha256),
        false => store.join("sha256").join(artifact.sha256),
    }
}

/// The paths of `artifacts`, each of which must be in the store.
pub fn resolve(artifacts: &[Artifact]) -> Result<Artifacts, String> {
    if artifacts.is_empty() {
        return Ok(Artifacts::default());
    }
    let store =
        store_dir().ok_or("cannot tell where the artifact store is: set SCOPE_ARTIFACTS_DIR")?;
    let mut paths = Vec::new();
    for artifact in artifacts {
        let path = path_in(&store, artifact);
        if !path.exists() {
            return Err(format!(
                "its artifact `{}` (sha256 {}) is not in {}: `scopectl fetch` fetches it",
                artifact.name,
                artifact.sha256,
                store.display()
            ));
        }
        paths.push((artifact.name.to_owned(), path));
    }
    Ok(Artifacts::new(paths))
}
