//! Pushing and pulling generations over the OCI distribution API
//! ([`super::distribution`]). Credentials: `SCOPE_OCI_TOKEN` (a bearer
//! token), else the registry's entry in docker's `config.json`, else none.
//! Plain `http://` only for a registry on loopback, as for cargo
//! registries.

use std::path::Path;

use anyhow::{bail, Context, Result};
use base64::Engine as _;

use super::distribution::{Auth, Client, Failure, Reference};
use super::{verify, Artifact, Generation, MANIFEST_TYPE};
use crate::error::Hinted;
use crate::settings::OciSettings;
use crate::signing::{cosign, PublicKey, SigningKey, Verified};

/// `oci://REGISTRY/REPO:TAG`, parsed.
pub struct Target {
    pub reference: Reference,
    loopback: bool,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let Some(rest) = url.strip_prefix("oci://") else {
            bail!(Hinted::new(
                format!("`{url}` is not an OCI reference"),
                "write `oci://REGISTRY/REPOSITORY:TAG`, e.g. `oci://127.0.0.1:5000/scope/fleet:v1`",
            ));
        };
        let reference: Reference = rest.parse().map_err(|e| {
            Hinted::new(
                format!("`{url}` is not an OCI reference: {e}"),
                "write `oci://REGISTRY/REPOSITORY:TAG`",
            )
        })?;
        let host = reference
            .registry
            .rsplit_once(':')
            .map_or(reference.registry.as_str(), |(h, _)| h);
        let loopback = scope_registry_client::http::is_loopback(host);
        Ok(Target {
            reference,
            loopback,
        })
    }

    /// `REGISTRY/REPOSITORY`: the identity a signature names.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.reference.registry, self.reference.repository)
    }

    fn client(&self, settings: &OciSettings) -> Result<Client> {
        let auth = self.auth(settings)?;
        Client::new(&self.reference, self.loopback, auth).map_err(|e| failed(self, "reach", e))
    }

    fn auth(&self, settings: &OciSettings) -> Result<Auth> {
        if let Some(token) = &settings.token {
            return Ok(Auth::Bearer(token.clone()));
        }
        let Some(path) = &settings.docker_config else {
            return Ok(Auth::Anonymous);
        };
        let Ok(text) = fs_err::read_to_string(path) else {
            return Ok(Auth::Anonymous);
        };
        docker_credentials(&text, &self.reference.registry, path)
    }
}

/// The credentials docker's `config.json` (`text`, read from `path`) holds
/// for `registry`: its `auths.<registry>.auth`, base64 of `user:password`;
/// anonymous when there are none.
pub fn docker_credentials(text: &str, registry: &str, path: &Path) -> Result<Auth> {
    let config: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("{} is not JSON", path.display()))?;
    let entry = &config["auths"][registry];
    let Some(encoded) = entry["auth"].as_str() else {
        return Ok(Auth::Anonymous);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .with_context(|| {
            format!(
                "the `auth` of {registry} in {} does not decode",
                path.display()
            )
        })?;
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    Ok(Auth::Basic(user.to_owned(), password.to_owned()))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn failed(target: &Target, what: &str, failure: Failure) -> anyhow::Error {
    let status = failure.status().map(|s| s.as_u16());
    let hint = if matches!(status, Some(401 | 403)) {
        "the registry wants credentials it accepts: `docker login REGISTRY` writes them to docker's config.json (or point DOCKER_CONFIG at one), or set SCOPE_OCI_TOKEN"
    } else if status == Some(404) {
        "check the repository and the tag (`skopeo list-tags docker://REGISTRY/REPOSITORY` lists the tags)"
    } else {
        "check the address and that the registry runs"
    };
    Hinted::new(
        format!("cannot {what} {}: {failure}", target.reference),
        hint,
    )
    .into()
}

/// What a push sent.
pub struct Pushed {
    /// The manifest's digest.
    pub digest: String,
    /// Blobs the repository already had, by size: not sent again.
    pub reused: Vec<u64>,
}

/// Pushes `artifact`. With `key`, also its cosign signature, at the
/// `sha256-<hex>.sig` tag.
pub fn push(
    target: &Target,
    artifact: &Artifact,
    settings: &OciSettings,
    key: Option<&SigningKey>,
) -> Result<Pushed> {
    let client = target.client(settings)?;
    let digest = artifact.digest();
    let signature = match key {
        Some(key) => Some(cosign::sign(key, &target.repository(), &digest)?),
        None => None,
    };
    runtime()?.block_on(async {
        let tag = target.reference.version();
        let reused = push_artifact(target, &client, tag, artifact).await?;
        if let Some(signature) = &signature {
            push_artifact(target, &client, &cosign::signature_tag(&digest), signature).await?;
        }
        Ok(Pushed { digest, reused })
    })
}

async fn push_artifact(
    target: &Target,
    client: &Client,
    tag: &str,
    artifact: &Artifact,
) -> Result<Vec<u64>> {
    let mut reused = Vec::new();
    for (digest, (_, bytes)) in &artifact.blobs {
        // A blob the repository has (an artifact an earlier generation
        // carried) is not sent again.
        if client.has_blob(digest).await.unwrap_or(false) {
            reused.push(bytes.len() as u64);
            continue;
        }
        client
            .put_blob(digest, bytes)
            .await
            .map_err(|e| failed(target, "push a blob to", e))?;
    }
    client
        .put_manifest(tag, MANIFEST_TYPE, &artifact.manifest)
        .await
        .map_err(|e| failed(target, "push the manifest to", e))?;
    Ok(reused)
}

/// Pulls and verifies the generation at `target`. With `keys`, its
/// signature is checked first, before any layer is downloaded.
pub fn pull(target: &Target, settings: &OciSettings, keys: &[PublicKey]) -> Result<Generation> {
    let client = target.client(settings)?;
    let runtime = runtime()?;
    let version = target.reference.version();
    let manifest = pull_manifest(target, &client, &runtime, version)?;
    let manifest = manifest.ok_or_else(|| not_found(target))?;
    let signed_by = if keys.is_empty() {
        None
    } else {
        Some(check_signature(target, &client, &runtime, &manifest, keys)?)
    };
    let mut generation = verify(&manifest, |layer| {
        pull_blob(target, &client, &runtime, layer)
    })?;
    generation.signed_by = signed_by;
    Ok(generation)
}

/// The digest the tag of `target` points at now (a `HEAD` of its
/// manifest), downloading nothing else.
pub fn tag_digest(target: &Target, settings: &OciSettings) -> Result<String> {
    let client = target.client(settings)?;
    runtime()?.block_on(async {
        client
            .manifest_digest(target.reference.version(), MANIFEST_TYPE)
            .await
            .map_err(|e| failed(target, "read", e))
    })
}

/// `oci://REGISTRY/REPOSITORY@DIGEST`: the same repository at a digest.
pub fn at_digest(target: &Target, digest: &str) -> String {
    format!("oci://{}@{digest}", target.repository())
}

/// Checks the signature of the manifest at `target` against `keys`,
/// downloading nothing but the manifest and the signature.
pub fn verify_signature(
    target: &Target,
    settings: &OciSettings,
    keys: &[PublicKey],
) -> Result<Verified> {
    let client = target.client(settings)?;
    let runtime = runtime()?;
    let manifest = pull_manifest(target, &client, &runtime, target.reference.version())?;
    let manifest = manifest.ok_or_else(|| not_found(target))?;
    check_signature(target, &client, &runtime, &manifest, keys)
}

fn check_signature(
    target: &Target,
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    manifest: &[u8],
    keys: &[PublicKey],
) -> Result<Verified> {
    let signed = super::digest(manifest);
    let signatures = pull_manifest(target, client, runtime, &cosign::signature_tag(&signed))?;
    cosign::verify(&signed, signatures.as_deref(), keys, |layer| {
        pull_blob(target, client, runtime, layer)
    })
}

/// The manifest at `version`; `None` when the registry has none there.
fn pull_manifest(
    target: &Target,
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    version: &str,
) -> Result<Option<Vec<u8>>> {
    runtime.block_on(async {
        match client.manifest(version, MANIFEST_TYPE).await {
            Ok(manifest) => Ok(manifest),
            // A repository the registry has never seen.
            Err(e) if e.has_code("NAME_UNKNOWN") || e.has_code("MANIFEST_UNKNOWN") => Ok(None),
            Err(e) => Err(failed(target, "read", e)),
        }
    })
}

fn pull_blob(
    target: &Target,
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    layer: &super::Descriptor,
) -> Result<Vec<u8>> {
    runtime.block_on(async {
        client
            .blob(&layer.digest, layer.size)
            .await
            .map_err(|e| failed(target, "download a blob of", e))
    })
}

fn not_found(target: &Target) -> anyhow::Error {
    let reference = &target.reference;
    Hinted::new(
        format!(
            "the registry has no tag {} in {}",
            reference.version(),
            target.repository()
        ),
        format!(
            "`skopeo list-tags docker://{}` lists the tags it has",
            target.repository()
        ),
    )
    .into()
}
