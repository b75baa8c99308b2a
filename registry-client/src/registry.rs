//! Sparse registries: `config.json`, index files revalidated with ETag /
//! Last-Modified into an on-disk cache, offline reads from that cache, and
//! verified downloads.
//!
//! The index format, the file layout of index paths and of the cache, and
//! the location of the default registry (cargo's own configuration: source
//! replacement and `CARGO_HOME` honoured) all come from `tame-index`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tame_index::index::{FileLock, IndexConfig, IndexLocation, IndexUrl, SparseIndex};
use tame_index::{IndexKrate, KrateName};
use tokio::sync::{OnceCell, Semaphore};

use crate::http::{is_loopback, Http, HttpError, Limit, Sink};
use crate::redact::redact;

/// Index fetches in flight at once per registry.
pub const CONCURRENT_FETCHES: usize = 64;

/// A registry operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The index location is not acceptable.
    #[error("registry `{registry}`: {message}")]
    Location {
        /// The registry's name.
        registry: String,
        /// What is wrong.
        message: String,
    },
    /// The registry wants a token that was not given.
    #[error("registry `{registry}` requires authentication: set {variable}")]
    AuthRequired {
        /// The registry's name.
        registry: String,
        /// The environment variable to set.
        variable: String,
    },
    /// The registry answered 401 or 403 to a request.
    #[error("{url} answered {status}: registry `{registry}` refused the request; set {variable} to a token it accepts (or check the one that is set)")]
    Refused {
        /// The URL, redacted.
        url: String,
        /// 401 or 403.
        status: StatusCode,
        /// The registry's name.
        registry: String,
        /// The environment variable of its token.
        variable: String,
    },
    /// Offline, and the cache does not have it.
    #[error("offline, and the index of registry `{registry}` has no cached entry for {what}; run once online to cache it")]
    NotCached {
        /// The registry's name.
        registry: String,
        /// What is missing.
        what: String,
    },
    /// The download did not match the index's checksum.
    #[error("{krate} from registry `{registry}` ({url}) failed verification: the index says sha256 {expected}, the download is {actual}; nothing was kept")]
    Checksum {
        /// The registry's name.
        registry: String,
        /// Where it was downloaded from.
        url: String,
        /// The crate and version (`fx 1.0.0`).
        krate: String,
        /// The index's checksum.
        expected: String,
        /// The download's checksum.
        actual: String,
    },
    /// An HTTP failure.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The error `config.json` gave, repeated for each crate asked for at once.
    #[error("{0}")]
    Config(String),
    /// An index file or `config.json` that does not parse.
    #[error("registry `{registry}` sent a malformed {what}: {message}")]
    Malformed {
        /// The registry's name.
        registry: String,
        /// What was malformed.
        what: String,
        /// The parser's message.
        message: String,
    },
    /// The cache could not be read or written.
    #[error("registry `{registry}`: the cache at {path} failed")]
    Cache {
        /// The registry's name.
        registry: String,
        /// The path.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// One crate's index entry, or why it could not be had.
pub type Fetched = (String, Result<Option<IndexKrate>, RegistryError>);

/// A sparse registry.
pub struct Registry {
    name: String,
    /// The index URL without `sparse+`, ending in `/`.
    base: String,
    token: Option<String>,
    index: SparseIndex,
    lock: FileLock,
    cache_dir: PathBuf,
    http: Arc<Http>,
    offline: bool,
    config: OnceCell<IndexConfig>,
}

/// `SCOPE_REGISTRY_TOKEN_<NAME>`: upper case, `-` as `_`.
pub fn token_variable(registry: &str) -> String {
    format!(
        "SCOPE_REGISTRY_TOKEN_{}",
        registry.to_ascii_uppercase().replace('-', "_")
    )
}

impl Registry {
    /// The registry cargo uses by default on this machine, as cargo's own
    /// configuration says (source replacement and `CARGO_HOME` honoured).
    pub fn default_registry(
        cache_root: &Path,
        http: Arc<Http>,
        offline: bool,
    ) -> Result<Registry, RegistryError> {
        Registry::default_registry_in(None, None, cache_root, http, offline)
    }

    /// Like [`Registry::default_registry`], reading cargo's configuration
    /// from `config_root` upwards and from `cargo_home` (both default to
    /// cargo's own choice: the working directory and `CARGO_HOME`).
    pub fn default_registry_in(
        config_root: Option<&Path>,
        cargo_home: Option<&Path>,
        cache_root: &Path,
        http: Arc<Http>,
        offline: bool,
    ) -> Result<Registry, RegistryError> {
        let location = |message: String| RegistryError::Location {
            registry: "crates-io".into(),
            message,
        };
        let utf8 = |p: &Path| {
            tame_index::PathBuf::from_path_buf(p.to_owned())
                .map_err(|p| location(format!("{} is not UTF-8", p.display())))
        };
        let config_root = config_root.map(utf8).transpose()?;
        let cargo_home = cargo_home.map(utf8).transpose()?;
        let url = IndexUrl::crates_io(config_root, cargo_home.as_deref(), None)
            .map_err(|e| location(e.to_string()))?;
        if !url.is_sparse() {
            return Err(location(format!(
                "cargo is configured to use the git index `{}`; scopectl reads sparse indexes only: set `registries.crates-io.protocol = \"sparse\"` in cargo's config",
                url.as_str()
            )));
        }
        Registry::new("crates-io", url.as_str(), cache_root, http, offline)
    }

    /// A named registry with a `sparse+http(s)://` index. Plain http is
    /// accepted for loopback addresses only. It has no token until
    /// [`Registry::with_token`] gives it one.
    pub fn new(
        name: &str,
        index_url: &str,
        cache_root: &Path,
        http: Arc<Http>,
        offline: bool,
    ) -> Result<Registry, RegistryError> {
        let location = |message: String| RegistryError::Location {
            registry: name.to_owned(),
            message,
        };
        let Some(plain) = index_url.strip_prefix("sparse+") else {
            return Err(location(format!(
                "index `{}` is not a sparse index: it must start with `sparse+https://`",
                redact(index_url)
            )));
        };
        let (scheme, rest) = plain
            .split_once("://")
            .ok_or_else(|| location(format!("index `{}` is not a URL", redact(index_url))))?;
        let host = rest
            .split(['/', '?'])
            .next()
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("");
        let host_only = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        match scheme {
            "https" => {}
            "http" if is_loopback(host_only) => {}
            "http" => return Err(location(format!("index `{}` uses plain http, which is allowed only for loopback addresses; use https", redact(index_url)))),
            other => return Err(location(format!("index scheme `{other}` is not supported; use sparse+https://"))),
        }
        let base = if plain.ends_with('/') {
            plain.to_owned()
        } else {
            format!("{plain}/")
        };
        let full = format!("sparse+{base}");
        let cache_dir = cache_root.join("index");
        let index = SparseIndex::new(
            IndexLocation::new(IndexUrl::NonCratesIo(full.clone().into())).with_root(Some(
                tame_index::PathBuf::from_path_buf(cache_dir.clone()).map_err(|p| {
                    location(format!("the cache path {} is not UTF-8", p.display()))
                })?,
            )),
        )
        .map_err(|e| location(e.to_string()))?;
        let cache_error = |path: &Path, source| RegistryError::Cache {
            registry: name.to_owned(),
            path: path.to_owned(),
            source,
        };
        let index_cache = index
            .cache()
            .cache_path(KrateName::cargo("a").expect("a valid name"));
        let lock_dir = index_cache
            .parent()
            .and_then(|p| p.parent())
            .map(|p| p.as_std_path().to_owned())
            .unwrap_or(cache_dir.clone());
        fs_err::create_dir_all(&lock_dir).map_err(|e| cache_error(&lock_dir, e))?;
        let lock_file = lock_dir.join(".scope-lock");
        fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lock_file)
            .map_err(|e| cache_error(&lock_file, e))?;
        let lock_path = tame_index::PathBuf::from_path_buf(lock_file)
            .map_err(|p| location(format!("{} is not UTF-8", p.display())))?;
        let lock = tame_index::flock::LockOptions::new(&lock_path)
            .shared()
            .lock(|_| None)
            .map_err(|e| location(format!("cannot lock the index cache: {e}")))?;
        Ok(Registry {
            name: name.to_owned(),
            base,
            token: None,
            index,
            lock,
            cache_dir: lock_dir,
            http,
            offline,
            config: OnceCell::new(),
        })
    }

    /// The registry with a token (the value of `SCOPE_REGISTRY_TOKEN_<NAME>`),
    /// sent only when its `config.json` says authentication is required.
    pub fn with_token(mut self, token: Option<String>) -> Registry {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// The registry's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn token_for(&self, config: Option<&IndexConfig>) -> Option<&str> {
        // Only a registry that asks for it gets the token.
        config
            .filter(|c| c.auth_required)
            .and(self.token.as_deref())
    }

    /// `config.json`, fetched once (offline: from the cache).
    pub async fn config(&self) -> Result<&IndexConfig, RegistryError> {
        self.config.get_or_try_init(|| self.fetch_config()).await
    }

    async fn fetch_config(&self) -> Result<IndexConfig, RegistryError> {
        let cached = self.cache_dir.join("config.json");
        let parse = |bytes: &[u8]| {
            serde_json::from_slice::<IndexConfig>(&as_cargo_reads(bytes)).map_err(|e| {
                RegistryError::Malformed {
                    registry: self.name.clone(),
                    what: "config.json".into(),
                    message: e.to_string(),
                }
            })
        };
        if self.offline {
            let bytes = fs_err::read(&cached).map_err(|_| RegistryError::NotCached {
                registry: self.name.clone(),
                what: "config.json".into(),
            })?;
            return parse(&bytes);
        }
        let url = format!("{}config.json", self.base);
        let mut answer = self.http.get(&url, &[], None).await?;
        let refused_without_token = answer.status == StatusCode::UNAUTHORIZED;
        if refused_without_token {
            let token = self.token.as_deref().ok_or_else(|| self.auth_required())?;
            answer = self.http.get(&url, &[], Some(token)).await?;
        }
        self.expect_ok(&url, answer.status)?;
        let mut config = parse(&answer.body)?;
        // A registry that refused us without a token requires one, whatever it says.
        config.auth_required |= refused_without_token;
        if config.auth_required && self.token.is_none() {
            return Err(self.auth_required());
        }
        let _ = fs_err::write(&cached, &answer.body);
        Ok(config)
    }

    /// A 200, or the error that the status means.
    fn expect_ok(&self, url: &str, status: StatusCode) -> Result<(), RegistryError> {
        match status {
            StatusCode::OK => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(self.refused(url, status)),
            status => Err(HttpError::Status {
                url: redact(url),
                status,
            }
            .into()),
        }
    }

    fn refused(&self, url: &str, status: StatusCode) -> RegistryError {
        RegistryError::Refused {
            url: redact(url),
            status,
            registry: self.name.clone(),
            variable: token_variable(&self.name),
        }
    }

    fn auth_required(&self) -> RegistryError {
        RegistryError::AuthRequired {
            registry: self.name.clone(),
            variable: token_variable(&self.name),
        }
    }

    /// The index entry of `name`: every published version. `None` when the
    /// registry has no such crate.
    pub async fn krate(&self, name: &str) -> Result<Option<IndexKrate>, RegistryError> {
        let malformed = |message: String| RegistryError::Malformed {
            registry: self.name.clone(),
            what: format!("index entry for `{name}`"),
            message,
        };
        let krate_name = KrateName::cargo(name).map_err(|e| malformed(e.to_string()))?;
        if self.offline {
            let entry = self
                .index
                .cached_krate(krate_name, &self.lock)
                .map_err(|e| malformed(e.to_string()))?;
            let entry = entry.ok_or_else(|| RegistryError::NotCached {
                registry: self.name.clone(),
                what: format!("`{name}`"),
            })?;
            return entry
                .deserialize()
                .map(Some)
                .map_err(|e| malformed(e.to_string()));
        }
        let config = self.config().await?;
        let request = self
            .index
            .make_remote_request(krate_name, None, &self.lock)
            .map_err(|e| malformed(e.to_string()))?;
        let request: tame_index::external::http::Request<()> = request.into();
        let url = request.uri().to_string();
        let headers: Vec<(HeaderName, HeaderValue)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                let name = HeaderName::from_bytes(k.as_str().as_bytes()).ok()?;
                let value = HeaderValue::from_bytes(v.as_bytes()).ok()?;
                // An empty `If-None-Match` means "nothing cached": leave it out.
                (!value.is_empty()).then_some((name, value))
            })
            .collect();
        let answer = self
            .http
            .get(&url, &headers, self.token_for(Some(config)))
            .await?;
        match answer.status {
            status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(self.refused(&url, status))
            }
            status
                if status.is_client_error()
                    && ![
                        StatusCode::NOT_FOUND,
                        StatusCode::GONE,
                        StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
                    ]
                    .contains(&status) =>
            {
                return Err(HttpError::Status {
                    url: redact(&url),
                    status,
                }
                .into());
            }
            _ => {}
        }
        let mut response =
            tame_index::external::http::Response::builder().status(answer.status.as_u16());
        for (k, v) in &answer.headers {
            response = response.header(k.as_str(), v.as_bytes());
        }
        let response = response
            .body(as_cargo_reads(&answer.body))
            .map_err(|e| malformed(e.to_string()))?;
        let entry = self
            .index
            .parse_remote_response(krate_name, &response, true, &self.lock)
            .map_err(|e| malformed(e.to_string()))?;
        entry
            .map(|e| e.deserialize().map_err(|e| malformed(e.to_string())))
            .transpose()
    }

    /// Index entries of many crates at once, at most [`CONCURRENT_FETCHES`] in flight.
    pub async fn krates(
        self: &Arc<Self>,
        names: &[String],
    ) -> Vec<(String, Result<Option<IndexKrate>, RegistryError>)> {
        // config.json first, once, so the fetches below do not race for it.
        if let Err(err) = self.config().await {
            let message = err.to_string();
            return names
                .iter()
                .map(|n| (n.clone(), Err(RegistryError::Config(message.clone()))))
                .collect();
        }
        let permits = Arc::new(Semaphore::new(CONCURRENT_FETCHES));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, name) in names.iter().enumerate() {
            let (registry, permits, name) = (Arc::clone(self), Arc::clone(&permits), name.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("never closed");
                (i, name.clone(), registry.krate(&name).await)
            });
        }
        let mut results: Vec<Option<Fetched>> = (0..names.len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (i, name, result) = joined.expect("index tasks do not panic");
            results[i] = Some((name, result));
        }
        results
            .into_iter()
            .map(|r| r.expect("every task reported"))
            .collect()
    }

    /// Downloads `name` `version`, verifies it against `checksum` (hex
    /// sha256 from the index) and returns its path in the content-addressed
    /// download cache. A cached file is verified again before reuse.
    pub async fn download(
        &self,
        name: &str,
        version: &str,
        checksum: &str,
        downloads: &Path,
    ) -> Result<PathBuf, RegistryError> {
        let cache_error = |path: &Path, source| RegistryError::Cache {
            registry: self.name.clone(),
            path: path.to_owned(),
            source,
        };
        let target = downloads.join(format!("{checksum}.crate"));
        if target.is_file() {
            match sha256_of(&target) {
                Ok(sum) if sum == checksum => return Ok(target),
                _ => {
                    let _ = fs_err::remove_file(&target);
                }
            }
        }
        if self.offline {
            return Err(RegistryError::NotCached {
                registry: self.name.clone(),
                what: format!("the download of {name} {version}"),
            });
        }
        let config = self.config().await?;
        let krate_name = KrateName::cargo(name).map_err(|e| RegistryError::Malformed {
            registry: self.name.clone(),
            what: "crate name".into(),
            message: e.to_string(),
        })?;
        let url = config
            .download_url(krate_name, version)
            .replace("{sha256-checksum}", checksum);
        fs_err::create_dir_all(downloads).map_err(|e| cache_error(downloads, e))?;
        let temp = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(downloads)
            .map_err(|e| cache_error(downloads, e))?;
        let mut sink = HashingFile {
            file: temp,
            hasher: Sha256::new(),
        };
        let answer = self
            .http
            .get_into(
                &url,
                &[],
                self.token_for(Some(config)),
                &mut sink,
                Limit::CRATE,
            )
            .await?;
        self.expect_ok(&url, answer.status)?;
        let actual = hex(&sink.hasher.finalize());
        if actual != checksum {
            // The temporary file is removed when dropped: nothing is kept.
            return Err(RegistryError::Checksum {
                registry: self.name.clone(),
                url: redact(&url),
                krate: format!("{name} {version}"),
                expected: checksum.to_owned(),
                actual,
            });
        }
        sink.file
            .as_file()
            .sync_all()
            .map_err(|e| cache_error(&target, e))?;
        sink.file
            .persist(&target)
            .map_err(|e| cache_error(&target, e.error))?;
        self.http.reporter().finished(&format!("{name} v{version}"));
        Ok(target)
    }
}

/// The hex sha256 of a file, read in pieces.
fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut fs_err::File::open(path)?, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

struct HashingFile {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
}

impl Sink for HashingFile {
    fn reset(&mut self) -> std::io::Result<()> {
        self.hasher = Sha256::new();
        self.file.as_file().set_len(0)?;
        use std::io::Seek;
        self.file.as_file_mut().seek(std::io::SeekFrom::Start(0))?;
        Ok(())
    }

    fn write(&mut self, chunk: bytes::Bytes) -> std::io::Result<()> {
        self.hasher.update(&chunk);
        self.file.write_all(&chunk)
    }
}

/// An index file or `config.json` in the form the index library reads, as
/// cargo reads it: every `"key": null` left out (several registry servers
/// write explicit nulls for optional fields, e.g. `"api": null` or a
/// dependency's `"registry": null`), and a dependency without a `kind` is a
/// normal one. Lines that are not JSON objects pass through unchanged, for
/// the reader to report.
pub fn as_cargo_reads(body: &[u8]) -> Vec<u8> {
    fn strip(value: &mut serde_json::Value) -> bool {
        let mut changed = false;
        match value {
            serde_json::Value::Object(map) => {
                let before = map.len();
                map.retain(|_, v| !v.is_null());
                changed |= map.len() != before;
                for v in map.values_mut() {
                    changed |= strip(v);
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    changed |= strip(v);
                }
            }
            _ => {}
        }
        changed
    }
    let mut out = Vec::with_capacity(body.len());
    for line in body.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(text) else {
            out.extend(line);
            continue;
        };
        let mut changed = strip(&mut value);
        let deps = value.get_mut("deps").and_then(|d| d.as_array_mut());
        for dep in deps.into_iter().flatten().filter_map(|d| d.as_object_mut()) {
            if !dep.contains_key("kind") {
                dep.insert("kind".into(), "normal".into());
                changed = true;
            }
        }
        if changed {
            out.extend(serde_json::to_vec(&value).expect("a value serialises"));
            out.extend(&line[text.len()..]);
        } else {
            out.extend(line);
        }
    }
    out
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
