//! Pushing and pulling generations over the OCI distribution API, with
//! `oci-client`. Credentials: `SCOPE_OCI_TOKEN` (a bearer token), else the
//! registry's entry in docker's `config.json`, else none. Plain `http://`
//! only for a registry on loopback, as for cargo registries.

use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

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
        let reference = Reference::from_str(rest).map_err(|e| {
            Hinted::new(
                format!("`{url}` is not an OCI reference: {e}"),
                "write `oci://REGISTRY/REPOSITORY:TAG`",
            )
        })?;
        let host = reference
            .registry()
            .rsplit_once(':')
            .map_or(reference.registry(), |(h, _)| h);
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        Ok(Target {
            reference,
            loopback,
        })
    }

    /// `REGISTRY/REPOSITORY`: the identity a signature names.
    pub fn repository(&self) -> String {
        format!(
            "{}/{}",
            self.reference.registry(),
            self.reference.repository()
        )
    }

    /// The same repository at another tag.
    fn with_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.reference.registry().to_owned(),
            self.reference.repository().to_owned(),
            tag.to_owned(),
        )
    }

    fn client(&self) -> Client {
        let protocol = if self.loopback {
            ClientProtocol::HttpsExcept(vec![self.reference.registry().to_owned()])
        } else {
            ClientProtocol::Https
        };
        Client::new(ClientConfig {
            protocol,
            ..Default::default()
        })
    }

    fn auth(&self, settings: &OciSettings) -> Result<RegistryAuth> {
        if let Some(token) = &settings.token {
            return Ok(RegistryAuth::Bearer(token.clone()));
        }
        let Some(path) = &settings.docker_config else {
            return Ok(RegistryAuth::Anonymous);
        };
        let Ok(text) = fs_err::read_to_string(path) else {
            return Ok(RegistryAuth::Anonymous);
        };
        docker_credentials(&text, self.reference.registry(), path)
    }
}

/// The credentials docker's `config.json` (`text`, read from `path`) holds
/// for `registry`: its `auths.<registry>.auth`, base64 of `user:password`;
/// anonymous when there are none.
pub fn docker_credentials(text: &str, registry: &str, path: &Path) -> Result<RegistryAuth> {
    let config: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("{} is not JSON", path.display()))?;
    let entry = &config["auths"][registry];
    let Some(encoded) = entry["auth"].as_str() else {
        return Ok(RegistryAuth::Anonymous);
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
    Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn failed(
    target: &Target,
    what: &str,
    err: oci_client::errors::OciDistributionError,
) -> anyhow::Error {
    let text = err.to_string();
    let text = text.trim();
    let hint = if text.contains("code: 401") || text.contains("UNAUTHORIZED") {
        "the registry wants credentials it accepts: `docker login REGISTRY` writes them to docker's config.json (or point DOCKER_CONFIG at one), or set SCOPE_OCI_TOKEN"
    } else if text.contains("code: 404")
        || text.contains("MANIFEST_UNKNOWN")
        || text.contains("NAME_UNKNOWN")
    {
        "check the repository and the tag (`skopeo list-tags docker://REGISTRY/REPOSITORY` lists the tags)"
    } else {
        "check the address and that the registry runs"
    };
    Hinted::new(format!("cannot {what} {}: {text}", target.reference), hint).into()
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
    let client = target.client();
    let auth = target.auth(settings)?;
    let reference = &target.reference;
    let digest = artifact.digest();
    let signature = match key {
        Some(key) => Some(cosign::sign(key, &target.repository(), &digest)?),
        None => None,
    };
    runtime()?.block_on(async {
        client
            .auth(reference, &auth, RegistryOperation::Push)
            .await
            .map_err(|e| failed(target, "sign in to", e))?;
        let reused = push_artifact(target, &client, reference, artifact).await?;
        if let Some(signature) = &signature {
            let at = target.with_tag(&cosign::signature_tag(&digest));
            push_artifact(target, &client, &at, signature).await?;
        }
        Ok(Pushed { digest, reused })
    })
}

async fn push_artifact(
    target: &Target,
    client: &Client,
    reference: &Reference,
    artifact: &Artifact,
) -> Result<Vec<u64>> {
    let mut reused = Vec::new();
    for (digest, (_, bytes)) in &artifact.blobs {
        // A blob the repository has (an artifact an earlier generation
        // carried) is not sent again: one byte of it says it is there.
        let present = client
            .pull_blob_stream_partial(reference, digest.as_str(), 0, Some(1))
            .await
            .is_ok();
        if present {
            reused.push(bytes.len() as u64);
            continue;
        }
        client
            .push_blob(reference, bytes, digest)
            .await
            .map_err(|e| failed(target, "push a blob to", e))?;
    }
    client
        .push_manifest_raw(
            reference,
            artifact.manifest.clone(),
            MANIFEST_TYPE.parse().expect("a header value"),
        )
        .await
        .map_err(|e| failed(target, "push the manifest to", e))?;
    Ok(reused)
}

/// Pulls and verifies the generation at `target`. With `keys`, its
/// signature is checked first, before any layer is downloaded.
pub fn pull(target: &Target, settings: &OciSettings, keys: &[PublicKey]) -> Result<Generation> {
    let client = target.client();
    let auth = target.auth(settings)?;
    let runtime = runtime()?;
    let manifest = pull_manifest(target, &client, &auth, &runtime, &target.reference)?;
    let manifest = manifest.ok_or_else(|| not_found(target))?;
    let signed_by = if keys.is_empty() {
        None
    } else {
        Some(check_signature(
            target, &client, &auth, &runtime, &manifest, keys,
        )?)
    };
    let mut generation = verify(&manifest, |layer| {
        pull_blob(target, &client, &runtime, &target.reference, layer)
    })?;
    generation.signed_by = signed_by;
    Ok(generation)
}

/// The digest the tag of `target` points at now (a `HEAD` of its
/// manifest), downloading nothing else.
pub fn tag_digest(target: &Target, settings: &OciSettings) -> Result<String> {
    let client = target.client();
    let auth = target.auth(settings)?;
    runtime()?.block_on(async {
        client
            .fetch_manifest_digest(&target.reference, &auth)
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
    let client = target.client();
    let auth = target.auth(settings)?;
    let runtime = runtime()?;
    let manifest = pull_manifest(target, &client, &auth, &runtime, &target.reference)?;
    let manifest = manifest.ok_or_else(|| not_found(target))?;
    check_signature(target, &client, &auth, &runtime, &manifest, keys)
}

fn check_signature(
    target: &Target,
    client: &Client,
    auth: &RegistryAuth,
    runtime: &tokio::runtime::Runtime,
    manifest: &[u8],
    keys: &[PublicKey],
) -> Result<Verified> {
    let signed = super::digest(manifest);
    let at = target.with_tag(&cosign::signature_tag(&signed));
    let signatures = pull_manifest(target, client, auth, runtime, &at)?;
    cosign::verify(&signed, signatures.as_deref(), keys, |layer| {
        pull_blob(target, client, runtime, &at, layer)
    })
}

/// The manifest at `reference`; `None` when the registry has none there.
fn pull_manifest(
    target: &Target,
    client: &Client,
    auth: &RegistryAuth,
    runtime: &tokio::runtime::Runtime,
    reference: &Reference,
) -> Result<Option<Vec<u8>>> {
    use oci_client::errors::{OciDistributionError, OciErrorCode};
    runtime.block_on(async {
        match client
            .pull_manifest_raw(reference, auth, &[MANIFEST_TYPE])
            .await
        {
            Ok((manifest, _)) => Ok(Some(manifest)),
            Err(OciDistributionError::ImageManifestNotFoundError(_)) => Ok(None),
            Err(OciDistributionError::RegistryError { envelope, .. })
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
                    )
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(failed(target, "read", e)),
        }
    })
}

fn pull_blob(
    target: &Target,
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    reference: &Reference,
    layer: &super::Descriptor,
) -> Result<Vec<u8>> {
    runtime.block_on(async {
        let mut bytes = Vec::with_capacity(layer.size as usize);
        client
            .pull_blob(reference, layer.digest.as_str(), &mut bytes)
            .await
            .map_err(|e| failed(target, "download a blob of", e))?;
        Ok(bytes)
    })
}

fn not_found(target: &Target) -> anyhow::Error {
    let reference = &target.reference;
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    let tag = reference.tag().or(reference.digest()).unwrap_or("latest");
    Hinted::new(
        format!("the registry has no tag {tag} in {repository}"),
        format!("`skopeo list-tags docker://{repository}` lists the tags it has"),
    )
    .into()
}
