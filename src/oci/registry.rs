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
    use oci_client::errors::{OciDistributionError, OciErrorCode};
    let reference = &target.reference;
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    let unknown = |wanted: fn(&OciErrorCode) -> bool| match &err {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| wanted(&e.code))
        }
        _ => false,
    };
    let no_manifest = matches!(err, OciDistributionError::ImageManifestNotFoundError(_))
        || unknown(|code| matches!(code, OciErrorCode::ManifestUnknown));
    if what == "read" && (no_manifest || unknown(|code| matches!(code, OciErrorCode::NameUnknown)))
    {
        let tag = reference.tag().or(reference.digest()).unwrap_or("latest");
        return Hinted::new(
            format!("the registry has no tag {tag} in {repository}"),
            format!("`skopeo list-tags docker://{repository}` lists the tags it has"),
        )
        .into();
    }
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

/// Pushes `artifact`; returns the manifest's digest.
pub fn push(target: &Target, artifact: &Artifact, settings: &OciSettings) -> Result<String> {
    let client = target.client();
    let auth = target.auth(settings)?;
    let reference = &target.reference;
    runtime()?.block_on(async {
        client
            .auth(reference, &auth, RegistryOperation::Push)
            .await
            .map_err(|e| failed(target, "sign in to", e))?;
        for (digest, (_, bytes)) in &artifact.blobs {
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
        Ok(artifact.digest())
    })
}

/// Pulls and verifies the generation at `target`.
pub fn pull(target: &Target, settings: &OciSettings) -> Result<Generation> {
    let client = target.client();
    let auth = target.auth(settings)?;
    let reference = &target.reference;
    let runtime = runtime()?;
    let manifest = runtime.block_on(async {
        client
            .pull_manifest_raw(reference, &auth, &[MANIFEST_TYPE])
            .await
            .map_err(|e| failed(target, "read", e))
    })?;
    let (manifest, _) = manifest;
    verify(&manifest, |layer| {
        runtime.block_on(async {
            let mut bytes = Vec::with_capacity(layer.size as usize);
            client
                .pull_blob(reference, layer.digest.as_str(), &mut bytes)
                .await
                .map_err(|e| failed(target, "download a blob of", e))?;
            Ok(bytes)
        })
    })
}
