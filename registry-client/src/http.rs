//! One HTTP client for every registry request: bounded timeouts, retries
//! with exponential backoff and jitter for transient failures only
//! (connection errors, resets, timeouts, 5xx, 429 with `Retry-After`),
//! never for other 4xx answers. Progress and retry warnings go to a
//! [`Reporter`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::StatusCode;

use crate::redact::redact;

/// Told about progress and retries; the CLI draws it.
pub trait Reporter: Send + Sync {
    /// A request failed transiently and will be tried again after `wait`.
    fn retrying(&self, url: &str, why: &str, wait: Duration, attempts_left: u32) {
        let _ = (url, why, wait, attempts_left);
    }
    /// `bytes` more bytes of a download arrived.
    fn downloaded(&self, bytes: u64) {
        let _ = bytes;
    }
    /// A file finished downloading.
    fn finished(&self, name: &str) {
        let _ = name;
    }
}

/// A reporter that says nothing.
pub struct Silent;

impl Reporter for Silent {}

/// Timeouts and retries, from `SCOPE_HTTP_TIMEOUT` and `SCOPE_HTTP_RETRIES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Per request, body included.
    pub timeout: Duration,
    /// How many times a transient failure is retried.
    pub retries: u32,
    /// The first backoff; it doubles with each retry.
    pub backoff: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

impl HttpSettings {
    /// The defaults, overridden by a timeout in seconds and a retry count as
    /// written (the values of `SCOPE_HTTP_TIMEOUT` and `SCOPE_HTTP_RETRIES`,
    /// which the caller reads).
    pub fn from_values(
        timeout: Option<&str>,
        retries: Option<&str>,
    ) -> Result<HttpSettings, HttpError> {
        let mut settings = HttpSettings::default();
        if let Some(value) = timeout {
            let secs: f64 = value
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0 && s.is_finite())
                .ok_or_else(|| {
                    HttpError::Settings(format!(
                        "SCOPE_HTTP_TIMEOUT is `{value}`; give a number of seconds, e.g. 30"
                    ))
                })?;
            settings.timeout = Duration::from_secs_f64(secs);
        }
        if let Some(value) = retries {
            settings.retries = value.parse().map_err(|_| {
                HttpError::Settings(format!(
                    "SCOPE_HTTP_RETRIES is `{value}`; give a whole number, e.g. 3"
                ))
            })?;
        }
        Ok(settings)
    }
}

/// A request that failed for good.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server could not be reached or the transfer broke, after every retry.
    #[error("cannot fetch {url}: {message}")]
    Transport {
        /// The URL, redacted.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}")]
    Status {
        /// The URL, redacted.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// A setting is invalid.
    #[error("{0}")]
    Settings(String),
    /// The body is larger than anything this request should bring.
    #[error("{url} sent more than {} MiB ({what}); refusing it as too large for {}", limit.bytes / (1024 * 1024), limit.what)]
    TooLarge {
        /// The URL, redacted.
        url: String,
        /// The limit that was passed.
        limit: Limit,
        /// What was too large: the claimed length, or the bytes that came.
        what: String,
    },
    /// The body could not be stored.
    #[error("cannot store the download of {url}")]
    Store {
        /// The URL, redacted.
        url: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// Whether `host` (a name or an address, IPv6 in brackets or not) is this
/// machine: the only place plain `http://` is accepted.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The most a response body may bring, and what the body is, for the
/// message when it brings more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Bytes.
    pub bytes: u64,
    /// What the body is, for messages: "a `.crate` download".
    pub what: &'static str,
}

impl Limit {
    /// Bodies held in memory (`config.json`, index files): 32 MiB, far
    /// above any real index file (a crate's every version on one line each).
    pub const IN_MEMORY: Limit = Limit {
        bytes: 32 * 1024 * 1024,
        what: "a registry answer held in memory",
    };
    /// `.crate` downloads: 512 MiB, the cap cargo puts on what a crate
    /// may unpack to.
    pub const CRATE: Limit = Limit {
        bytes: 512 * 1024 * 1024,
        what: "a `.crate` download",
    };
}

/// The answer to a GET.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (empty when it went to a [`Sink`]).
    pub body: Vec<u8>,
}

/// Where a response body streams to. A retry starts the body again, so the
/// sink must be able to forget what it got.
pub trait Sink: Send {
    /// Forget everything written so far.
    fn reset(&mut self) -> std::io::Result<()>;
    /// Take the next piece of the body (as the connection received it: a
    /// sink that keeps it holds a reference, not a copy).
    fn write(&mut self, chunk: bytes::Bytes) -> std::io::Result<()>;
    /// How many bytes of the body it already holds, so that a retry may ask
    /// for the rest only (`Range: bytes=N-`); 0: start again every time.
    fn resume_from(&self) -> u64 {
        0
    }
}

/// A body held in memory that never reserves past its limit (a `Vec`
/// doubling from just under the limit would hold twice it).
struct Buffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl Sink for Buffer {
    fn reset(&mut self) -> std::io::Result<()> {
        self.bytes.clear();
        Ok(())
    }
    fn write(&mut self, chunk: bytes::Bytes) -> std::io::Result<()> {
        let needed = self.bytes.len() + chunk.len();
        if needed > self.bytes.capacity() {
            let grown = (self.bytes.capacity() * 2).clamp(needed, self.limit.max(needed));
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(&chunk);
        Ok(())
    }
}

/// The shared HTTP client.
pub struct Http {
    /// Made at the first request: setting up TLS reads and parses the
    /// system's root certificates, which a command that turns out to need
    /// no network (a no-op `sync`) should not pay for.
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
    settings: HttpSettings,
    reporter: Arc<dyn Reporter>,
}

enum Attempt {
    Done(Answer),
    Fail(HttpError),
    Retry { why: String, wait: Option<Duration> },
}

impl Http {
    /// A client with these settings (HTTP/2 where the server offers it);
    /// its TLS is set up at the first request.
    pub fn new(settings: HttpSettings, reporter: Arc<dyn Reporter>) -> Result<Http, HttpError> {
        Ok(Http {
            client: std::sync::OnceLock::new(),
            settings,
            reporter,
        })
    }

    fn client(&self) -> Result<&reqwest::Client, HttpError> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(self.settings.timeout)
                    .connect_timeout(self.settings.timeout)
                    .user_agent(concat!("scopectl/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot set up the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|message| HttpError::Settings(message.clone()))
    }

    /// The reporter.
    pub fn reporter(&self) -> &dyn Reporter {
        self.reporter.as_ref()
    }

    /// GETs `url` with `headers` (and `token` as `Authorization`), retrying
    /// transient failures. Any final status is returned; the caller decides.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        token: Option<&str>,
    ) -> Result<Answer, HttpError> {
        let limit = Limit::IN_MEMORY;
        let mut body = Buffer {
            bytes: Vec::new(),
            limit: usize::try_from(limit.bytes).unwrap_or(usize::MAX),
        };
        let mut answer = self.get_into(url, headers, token, &mut body, limit).await?;
        answer.body = body.bytes;
        Ok(answer)
    }

    /// Like [`Http::get`], streaming a successful body into `sink`; a body
    /// longer than `limit` (claimed or sent) is refused without a retry.
    pub async fn get_into(
        &self,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        token: Option<&str>,
        sink: &mut dyn Sink,
        limit: Limit,
    ) -> Result<Answer, HttpError> {
        let mut attempt = 0;
        loop {
            let (why, wait) = match self.attempt(url, headers, token, sink, limit).await {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Fail(err) => return Err(err),
                Attempt::Retry { why, wait } => (why, wait),
            };
            if attempt >= self.settings.retries {
                return Err(HttpError::Transport {
                    url: redact(url),
                    message: match attempt {
                        0 => format!("{why} (not retried: SCOPE_HTTP_RETRIES is 0)"),
                        n => format!("{why} (after {} attempts)", n + 1),
                    },
                });
            }
            let backoff = self.settings.backoff.saturating_mul(1 << attempt.min(10));
            let jitter = backoff.mul_f64(fastrand::f64() * 0.5);
            let wait = wait
                .unwrap_or(backoff + jitter)
                .min(Duration::from_secs(60));
            self.reporter
                .retrying(&redact(url), &why, wait, self.settings.retries - attempt);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        token: Option<&str>,
        sink: &mut dyn Sink,
        limit: Limit,
    ) -> Attempt {
        let client = match self.client() {
            Ok(client) => client,
            Err(err) => return Attempt::Fail(err),
        };
        let mut request = client.get(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let from = sink.resume_from();
        if from > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return Attempt::Retry {
                    why: describe(&err),
                    wait: None,
                }
            }
        };
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Attempt::Retry {
                why: format!("the server answered {status}"),
                wait,
            };
        }
        let too_large = |what: String| {
            Attempt::Fail(HttpError::TooLarge {
                url: redact(url),
                limit,
                what,
            })
        };
        // The rest of what the sink holds, when the server resumed where
        // it was asked to; anything else starts the body again.
        let resumed = from > 0
            && status == StatusCode::PARTIAL_CONTENT
            && response
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(&format!("bytes {from}-")));
        let before = if resumed { from } else { 0 };
        if let Some(claimed) = response
            .content_length()
            .map(|n| n + before)
            .filter(|&n| n > limit.bytes)
        {
            return too_large(format!("its Content-Length says {claimed} bytes"));
        }
        let headers = response.headers().clone();
        if !resumed {
            if let Err(source) = sink.reset() {
                return Attempt::Fail(HttpError::Store {
                    url: redact(url),
                    source,
                });
            }
        }
        let status = if resumed { StatusCode::OK } else { status };
        let mut response = response;
        let mut received: u64 = before;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    received += chunk.len() as u64;
                    if received > limit.bytes {
                        return too_large(format!("{received} bytes had come"));
                    }
                    self.reporter.downloaded(chunk.len() as u64);
                    if let Err(source) = sink.write(chunk) {
                        return Attempt::Fail(HttpError::Store {
                            url: redact(url),
                            source,
                        });
                    }
                }
                Ok(None) => break,
                // A body cut short or stalled: transient.
                Err(err) => {
                    return Attempt::Retry {
                        why: describe(&err),
                        wait: None,
                    }
                }
            }
        }
        Attempt::Done(Answer {
            status,
            headers,
            body: Vec::new(),
        })
    }
}

fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the response body broke off"
    } else {
        "the request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", redact(&detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_means_this_machine_and_nothing_that_looks_like_it() {
        for host in ["localhost", "127.0.0.1", "127.3.4.5", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        // Once accepted by a prefix test: a public name under 127.0.0.1.
        for host in [
            "127.0.0.1.example.org",
            "localhost.example.org",
            "10.0.0.1",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn settings_come_from_the_environment_values() {
        let settings = HttpSettings::from_values(Some("2.5"), Some("0")).unwrap();
        assert_eq!(
            (settings.timeout, settings.retries),
            (Duration::from_millis(2500), 0)
        );
        assert_eq!(
            HttpSettings::from_values(None, None).unwrap(),
            HttpSettings::default()
        );
        let err = HttpSettings::from_values(Some("soon"), None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "SCOPE_HTTP_TIMEOUT is `soon`; give a number of seconds, e.g. 30"
        );
        assert!(HttpSettings::from_values(None, Some("-1")).is_err());
    }
}
