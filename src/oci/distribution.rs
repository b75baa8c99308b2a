//! The part of the OCI distribution API that generations travel over:
//! manifests by tag or digest (read, `HEAD` for the digest, write) and
//! blobs (read, `HEAD` for presence, monolithic upload), with docker's
//! token handshake (a `401` whose `WWW-Authenticate` names a `Bearer`
//! realm: the token is asked for there, with the basic credentials when
//! there are some) and basic credentials.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

/// `REGISTRY/REPOSITORY[:TAG][@DIGEST]`, the registry named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// The tag or digest a manifest is addressed by (the digest first).
    pub fn version(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl FromStr for Reference {
    type Err = String;

    fn from_str(text: &str) -> Result<Reference, String> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .ok_or("it names no repository after the registry")?;
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(format!(
                "`{registry}` is not a registry (a host name with a dot, a port, or `localhost`)"
            ));
        }
        // A `:` after the last `/` starts the tag.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
            _ => (path, None),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        };
        if !repository.split('/').all(component_ok) {
            return Err(format!(
                "`{repository}` is not a repository name (lower-case letters, digits and `._-` between `/`)"
            ));
        }
        if let Some(tag) = tag {
            let tag_ok = (1..=128).contains(&tag.len())
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
                && !tag.starts_with(['.', '-']);
            if !tag_ok {
                return Err(format!(
                    "`{tag}` is not a tag (letters, digits and `_.-`, at most 128)"
                ));
            }
        }
        if let Some(digest) = digest {
            let digest_ok = digest.split_once(':').is_some_and(|(algorithm, hex)| {
                !algorithm.is_empty()
                    && hex.len() >= 32
                    && hex.bytes().all(|b| b.is_ascii_hexdigit())
            });
            if !digest_ok {
                return Err(format!(
                    "`{digest}` is not a digest (`sha256:` and 64 hex digits)"
                ));
            }
        }
        Ok(Reference {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Who the client says it is.
#[derive(Clone)]
pub enum Auth {
    Anonymous,
    Basic(String, String),
    /// A token sent as it is.
    Bearer(String),
}

/// What went wrong with a request.
#[derive(Debug)]
pub enum Failure {
    /// No answer: the connection, TLS, a timeout.
    Unreachable(reqwest::Error),
    /// An answer other than the one expected.
    Refused {
        status: StatusCode,
        url: String,
        /// The `errors[].code`s of the registry's JSON body.
        codes: Vec<String>,
        detail: String,
    },
    /// An answer that breaks the protocol.
    Protocol(String),
}

impl Failure {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Failure::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn has_code(&self, code: &str) -> bool {
        matches!(self, Failure::Refused { codes, .. } if codes.iter().any(|c| c == code))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unreachable(e) => write!(f, "{e}"),
            Failure::Refused {
                status,
                url,
                detail,
                ..
            } => {
                write!(f, "the registry answered {status} to {url}")?;
                if !detail.is_empty() {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
            Failure::Protocol(what) => write!(f, "{what}"),
        }
    }
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Failure {
        Failure::Unreachable(e)
    }
}

/// A client of one repository of one registry.
pub struct Client {
    http: reqwest::Client,
    /// `https://REGISTRY` (`http://` for a registry on loopback).
    base: String,
    repository: String,
    auth: Auth,
    /// The token a `Bearer` challenge's realm gave, for later requests.
    token: Mutex<Option<String>>,
}

impl Client {
    pub fn new(reference: &Reference, plain_http: bool, auth: Auth) -> Result<Client, Failure> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("scopectl/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let scheme = if plain_http { "http" } else { "https" };
        Ok(Client {
            http,
            base: format!("{scheme}://{}", reference.registry),
            repository: reference.repository.clone(),
            auth,
            token: Mutex::new(None),
        })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.repository)
    }

    /// Sends what `build` makes, with credentials; on a `401` that asks
    /// for a token, gets one and sends it again, once.
    async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Response, Failure> {
        let response = self.authorized(build()).send().await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let Some(bearer) = strip_scheme(&challenge, "bearer") else {
            return Ok(response);
        };
        if matches!(self.auth, Auth::Bearer(_)) {
            return Ok(response);
        }
        let token = self.token_from(bearer).await?;
        *self.token.lock().expect("token lock") = Some(token);
        Ok(self.authorized(build()).send().await?)
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        if let Some(token) = self.token.lock().expect("token lock").as_ref() {
            return request.bearer_auth(token);
        }
        match &self.auth {
            Auth::Anonymous => request,
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// Asks the realm of a `Bearer` challenge (its parameters in
    /// `challenge`) for a token to pull from and push to the repository.
    async fn token_from(&self, challenge: &str) -> Result<String, Failure> {
        let parameters = challenge_parameters(challenge);
        let get = |name: &str| {
            parameters
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let realm = get("realm").ok_or_else(|| {
            Failure::Protocol("the registry asked for a token but named no realm".into())
        })?;
        let scope = get("scope")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("repository:{}:pull,push", self.repository));
        let mut query = vec![("scope", scope)];
        if let Some(service) = get("service") {
            query.push(("service", service.to_owned()));
        }
        let mut request = self.http.get(realm).query(&query);
        if let Auth::Basic(user, password) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await?;
        let url = response.url().to_string();
        let response = expect(response, &[StatusCode::OK]).await?;
        let body: serde_json::Value = serde_json::from_slice(&response.bytes().await?)
            .map_err(|e| Failure::Protocol(format!("the token service at {url} answered: {e}")))?;
        body["token"]
            .as_str()
            .or(body["access_token"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::Protocol(format!("the token service at {url} answered no token"))
            })
    }

    /// The manifest at `version` (a tag or digest); `None` when the
    /// registry has none there.
    pub async fn manifest(&self, version: &str, accept: &str) -> Result<Option<Vec<u8>>, Failure> {
        let url = self.url(&format!("manifests/{version}"));
        let response = self
            .send(|| self.http.get(&url).header(ACCEPT, accept))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = expect(response, &[StatusCode::OK]).await?;
        Ok(Some(response.bytes().await?.to_vec()))
    }

    /// The digest of the manifest at `version`, from a `HEAD` (a `GET`,
    /// hashed here, when the registry does not say).
    pub async fn manifest_digest(&self, version: &str, accept: &str) -> Result<String, Failure> {
        let url = self.url(&format!("manifests/{version}"));
        let response = self
            .send(|| self.http.request(Method::HEAD, &url).header(ACCEPT, accept))
            .await?;
        let response = expect(response, &[StatusCode::OK]).await?;
        if let Some(digest) = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            return Ok(digest.to_owned());
        }
        let manifest = self.manifest(version, accept).await?.ok_or_else(|| {
            Failure::Protocol(format!(
                "the manifest at {url} went away between two requests"
            ))
        })?;
        Ok(super::digest(&manifest))
    }

    pub async fn put_manifest(
        &self,
        tag: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> Result<(), Failure> {
        let url = self.url(&format!("manifests/{tag}"));
        let response = self
            .send(|| {
                self.http
                    .put(&url)
                    .header(CONTENT_TYPE, media_type)
                    .body(manifest.to_vec())
            })
            .await?;
        expect(response, &[StatusCode::CREATED, StatusCode::OK]).await?;
        Ok(())
    }

    pub async fn has_blob(&self, digest: &str) -> Result<bool, Failure> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(|| self.http.request(Method::HEAD, &url)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        expect(response, &[StatusCode::OK]).await?;
        Ok(true)
    }

    pub async fn blob(&self, digest: &str, size: u64) -> Result<Vec<u8>, Failure> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(|| self.http.get(&url)).await?;
        let mut response = expect(response, &[StatusCode::OK]).await?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 30));
        while let Some(chunk) = response.chunk().await? {
            if bytes.len() as u64 + chunk.len() as u64 > size {
                return Err(Failure::Protocol(format!(
                    "the blob {digest} is longer than the {size} bytes its descriptor says"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Uploads a blob in one request after opening an upload session.
    pub async fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), Failure> {
        let start = self.url("blobs/uploads/");
        let response = self.send(|| self.http.post(&start)).await?;
        let response = expect(response, &[StatusCode::ACCEPTED]).await?;
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Failure::Protocol(format!("{start} opened an upload without a Location"))
            })?;
        let mut upload = reqwest::Url::parse(&start)
            .and_then(|base| base.join(location))
            .map_err(|e| {
                Failure::Protocol(format!(
                    "the upload location `{location}` is not a URL: {e}"
                ))
            })?;
        upload.query_pairs_mut().append_pair("digest", digest);
        let response = self
            .send(|| {
                self.http
                    .put(upload.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.to_vec())
            })
            .await?;
        expect(response, &[StatusCode::CREATED]).await?;
        Ok(())
    }
}

/// `response` if its status is one of `wanted`, else what the registry
/// said, from its JSON error body when it sent one.
async fn expect(response: Response, wanted: &[StatusCode]) -> Result<Response, Failure> {
    let status = response.status();
    if wanted.contains(&status) {
        return Ok(response);
    }
    let mut url = response.url().clone();
    url.set_query(None);
    let text = response.text().await.unwrap_or_default();
    let (codes, detail) = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(body) => {
            let errors = body["errors"].as_array().cloned().unwrap_or_default();
            let codes: Vec<String> = errors
                .iter()
                .filter_map(|e| e["code"].as_str().map(str::to_owned))
                .collect();
            let detail = errors
                .iter()
                .map(|e| {
                    let code = e["code"].as_str().unwrap_or("error");
                    match e["message"].as_str() {
                        Some(message) => format!("{code}: {message}"),
                        None => code.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            (codes, detail)
        }
        Err(_) => (Vec::new(), text.trim().chars().take(200).collect()),
    };
    Err(Failure::Refused {
        status,
        url: url.to_string(),
        codes,
        detail,
    })
}

/// What follows `scheme` (compared without case) in a challenge.
fn strip_scheme<'a>(challenge: &'a str, scheme: &str) -> Option<&'a str> {
    let (first, rest) = challenge.trim().split_once(' ')?;
    first.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// `realm="…",service="…",scope="…"`: the pairs, quotes removed.
fn challenge_parameters(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((value, tail)) => (value, tail),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        pairs.push((key, value.to_owned()));
        rest = tail.trim_start().trim_start_matches(',');
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_registry_repository_tag_and_digest() {
        let r: Reference = "127.0.0.1:5000/scope/fleet:v1".parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "scope/fleet", Some("v1"))
        );
        assert_eq!(r.to_string(), "127.0.0.1:5000/scope/fleet:v1");
        let digest = format!("sha256:{}", "a".repeat(64));
        let r: Reference = format!("registry.example.org/fleet@{digest}")
            .parse()
            .unwrap();
        assert_eq!((r.tag, r.digest.as_deref()), (None, Some(digest.as_str())));
        let r: Reference = "localhost/a/b".parse().unwrap();
        assert_eq!(r.version(), "latest");
        for bad in [
            "fleet:v1",
            "registry.example.org",
            "registry.example.org/Fleet:v1",
            "registry.example.org/fleet:-v1",
            "registry.example.org/fleet@sha256:xyz",
            "registry.example.org//fleet",
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_bearer_challenge_gives_its_realm_service_and_scope() {
        let challenge = r#"Bearer realm="https://auth.example.org/token",service="registry.example.org",scope="repository:scope/fleet:pull,push""#;
        let rest = strip_scheme(challenge, "bearer").unwrap();
        assert_eq!(
            challenge_parameters(rest),
            [
                (
                    "realm".to_owned(),
                    "https://auth.example.org/token".to_owned()
                ),
                ("service".to_owned(), "registry.example.org".to_owned()),
                (
                    "scope".to_owned(),
                    "repository:scope/fleet:pull,push".to_owned()
                ),
            ]
        );
        assert_eq!(strip_scheme(r#"Basic realm="x""#, "bearer"), None);
    }
}
