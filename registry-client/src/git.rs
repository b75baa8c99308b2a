//! Git sources: URL and revision checks, a bare cache per repository,
//! revision resolution, checkouts keyed by commit, and remote tips.
//!
//! Everything a user typed is checked before any git operation starts:
//! only https, ssh, scp-like (`git@host:path`) and explicit `file://` URLs
//! (plain `http://` to this machine only), nothing that could be read as
//! an option or a transport helper (`ext::`, `fd::`). libgit2 runs no
//! hooks; submodules are refused.
//!
//! Network operations are bounded like the registry's requests: the
//! `SCOPE_HTTP_TIMEOUT` applies to connecting and to every read, and a
//! transient failure (a reset, a stall, a 5xx or 429 answer) is retried
//! `SCOPE_HTTP_RETRIES` times with backoff; a 4xx answer is not. Private
//! repositories log in as with git (see `git_login`).

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use git2::{Direction, FetchOptions, Oid, Repository};
use sha2::{Digest, Sha256};

use crate::http::{is_loopback, HttpSettings};
use crate::redact::redact;

/// A git failure, with the repository named (credentials removed).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The URL is not one scopectl accepts.
    #[error("`{url}` is not an accepted git URL: {reason}; use https://, ssh://, git@host:path or file://")]
    BadUrl {
        /// The URL, redacted.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The branch, tag or commit is not one scopectl accepts.
    #[error("`{rev}` is not an accepted git revision: {reason}")]
    BadRevision {
        /// The revision.
        rev: String,
        /// What is wrong.
        reason: String,
    },
    /// Offline, and the cache does not have what was asked for.
    #[error("{what} of {url} is not cached, and offline nothing is fetched")]
    NotCached {
        /// The URL, redacted.
        url: String,
        /// What was asked for.
        what: String,
    },
    /// The revision does not exist in the repository.
    #[error("{url} has no {what}")]
    NotFound {
        /// The URL, redacted.
        url: String,
        /// `branch \`x\``, `tag \`x\``, `commit \`x\``.
        what: String,
    },
    /// The plugin uses submodules.
    #[error("{url} at {commit} uses git submodules, which scopectl does not fetch; vendor them into the plugin's repository")]
    Submodules {
        /// The URL, redacted.
        url: String,
        /// The commit.
        commit: String,
    },
    /// libgit2 failed.
    #[error("git failed for {url}: {message}")]
    Git {
        /// The URL, redacted.
        url: String,
        /// libgit2's message, redacted.
        message: String,
    },
    /// The filesystem failed.
    #[error("git checkout of {url} failed")]
    Io {
        /// The URL, redacted.
        url: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// A validated git URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitUrl {
    url: String,
    normalized: String,
}

impl GitUrl {
    /// Checks `url`; refuses anything but https, ssh, scp-like and `file://`.
    pub fn parse(url: &str) -> Result<GitUrl, GitError> {
        let bad = |reason: &str| GitError::BadUrl {
            url: redact(url),
            reason: reason.to_owned(),
        };
        if url.starts_with('-') {
            return Err(bad("it starts with `-`, which git could read as an option"));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("it contains spaces or control characters"));
        }
        let plain = url.strip_prefix("git+").unwrap_or(url);
        if let Some((transport, _)) = plain.split_once("::") {
            if !transport.contains('/') {
                return Err(bad(&format!(
                    "the `{transport}::` transport runs programs and is not allowed"
                )));
            }
        }
        let normalized = if let Some((scheme, rest)) = plain.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            match scheme.as_str() {
                "https" | "ssh" => {}
                "file" if !rest.is_empty() => {}
                "http" if is_loopback(host_of(rest)) => {}
                "http" => return Err(bad("plain http is not allowed (except to this machine)")),
                other => return Err(bad(&format!("the `{other}` scheme is not allowed"))),
            }
            if scheme != "file" {
                let host_end = rest.find('/').unwrap_or(rest.len());
                if host_end == 0 {
                    return Err(bad("it names no host"));
                }
            }
            normalize(&scheme, rest)
        } else if let Some((host, path)) = scp_like(plain) {
            normalize("ssh", &format!("{host}/{}", path.trim_start_matches('/')))
        } else {
            return Err(bad("it has no scheme"));
        };
        Ok(GitUrl {
            url: plain.to_owned(),
            normalized,
        })
    }

    /// Whether it is a `file://` URL: nothing about it is transient.
    pub fn is_local(&self) -> bool {
        self.url.starts_with("file://")
    }

    /// The URL as given (without a `git+` prefix).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL with case, a trailing `/` and a trailing `.git` folded away:
    /// two spellings of one repository normalise alike.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// A directory name for this repository: readable and unique.
    pub fn cache_key(&self) -> String {
        let name: String = self
            .normalized
            .rsplit('/')
            .next()
            .unwrap_or("repo")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let digest = Sha256::digest(self.normalized.as_bytes());
        let hash = crate::registry::hex(&digest[..8]);
        format!("{name}-{hash}")
    }

    /// The URL for messages (credentials removed).
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

/// The host of `rest` (what follows `scheme://`), without user or port.
fn host_of(rest: &str) -> &str {
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.split(':').next().unwrap_or(host)
}

/// `user@host:path` (not `C:\...`, not a URL).
fn scp_like(url: &str) -> Option<(&str, &str)> {
    let (host, path) = url.split_once(':')?;
    if host.is_empty() || host.contains('/') || path.starts_with("//") || host.len() == 1 {
        return None;
    }
    Some((host, path))
}

fn normalize(scheme: &str, rest: &str) -> String {
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // Host names are case-insensitive; user names and paths are not.
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => format!("{user}@{}", host.to_ascii_lowercase()),
        None => authority.to_ascii_lowercase(),
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    format!("{scheme}://{authority}{path}")
}

/// What to take from a repository: the reference `plugins.toml` names.
pub use scope_lockfile::GitReference;

/// Checks the name of a branch, tag or revision before git sees it.
pub fn validate(reference: &GitReference) -> Result<(), GitError> {
    let name = match reference {
        GitReference::DefaultBranch => return Ok(()),
        GitReference::Branch(n) | GitReference::Tag(n) | GitReference::Rev(n) => n,
    };
    let bad = |reason: &str| GitError::BadRevision {
        rev: name.clone(),
        reason: reason.to_owned(),
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.starts_with('-') {
        return Err(bad("it starts with `-`, which git could read as an option"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return Err(bad("it contains a character git does not allow in names"));
    }
    if name.contains("..") || name.contains("@{") || name.ends_with('/') || name.ends_with(".lock")
    {
        return Err(bad("it is not a valid git name"));
    }
    Ok(())
}

fn describe(reference: &GitReference) -> String {
    match reference {
        GitReference::DefaultBranch => "default branch".into(),
        GitReference::Branch(b) => format!("branch `{b}`"),
        GitReference::Tag(t) => format!("tag `{t}`"),
        GitReference::Rev(r) => format!("commit `{r}`"),
    }
}

/// The git cache: bare repositories under `db/`, checkouts under `checkouts/`.
#[derive(Debug, Clone)]
pub struct GitCache {
    root: PathBuf,
    network: HttpSettings,
}

impl GitCache {
    /// A cache rooted at `root` whose fetches are bounded by `network`.
    /// Nothing of libgit2 is touched until a repository is: its start-up
    /// (OpenSSL's, with the system's certificates) is for commands that
    /// use git.
    pub fn new(root: impl Into<PathBuf>, network: &HttpSettings) -> GitCache {
        GitCache {
            root: root.into(),
            network: *network,
        }
    }

    fn git_err(url: &GitUrl, err: git2::Error) -> GitError {
        GitError::Git {
            url: url.redacted(),
            message: redact(err.message()),
        }
    }

    fn io_err(url: &GitUrl, source: std::io::Error) -> GitError {
        GitError::Io {
            url: url.redacted(),
            source,
        }
    }

    /// The bare repository for `url`, created when missing.
    fn database(&self, url: &GitUrl) -> Result<Repository, GitError> {
        let path = self.root.join("db").join(url.cache_key());
        match Repository::open_bare(&path) {
            Ok(repo) => Ok(repo),
            Err(_) => {
                fs_err::create_dir_all(&path).map_err(|e| Self::io_err(url, e))?;
                Repository::init_bare(&path).map_err(|e| Self::git_err(url, e))
            }
        }
    }

    /// The commit `reference` names, fetching only when the cache cannot
    /// answer: a full commit id that is cached (a locked commit) needs no
    /// network; offline, branches and tags resolve as the cache last saw
    /// them, and what is not cached is an error saying so.
    pub fn locate(
        &self,
        url: &GitUrl,
        reference: &GitReference,
        offline: bool,
    ) -> Result<Oid, GitError> {
        validate(reference)?;
        if let GitReference::Rev(rev) = reference {
            if let Some(oid) = Oid::from_str(rev).ok().filter(|_| rev.len() == 40) {
                if self.has_commit(url, oid) {
                    return Ok(oid);
                }
            }
        }
        if !offline {
            return self.fetch(url, reference);
        }
        let repo = self.database(url)?;
        Self::resolve(&repo, url, reference).map_err(|_| GitError::NotCached {
            url: url.redacted(),
            what: describe(reference),
        })
    }

    /// What `rev` names in the cached repository of `url` (fetched before):
    /// a branch, else a tag, else a commit or other revision.
    pub fn classify(&self, url: &GitUrl, rev: &str) -> GitReference {
        let Ok(repo) = Repository::open_bare(self.root.join("db").join(url.cache_key())) else {
            return GitReference::Rev(rev.to_owned());
        };
        if repo
            .find_reference(&format!("refs/remotes/origin/{rev}"))
            .is_ok()
        {
            GitReference::Branch(rev.to_owned())
        } else if repo.find_reference(&format!("refs/tags/{rev}")).is_ok() {
            GitReference::Tag(rev.to_owned())
        } else {
            GitReference::Rev(rev.to_owned())
        }
    }

    /// Whether `commit` is in the cache (checked out, or in the repository).
    fn has_commit(&self, url: &GitUrl, commit: Oid) -> bool {
        self.checkout_dir(url, commit)
            .join(".scope-checkout-ok")
            .is_file()
            || Repository::open_bare(self.root.join("db").join(url.cache_key()))
                .is_ok_and(|repo| repo.find_commit(commit).is_ok())
    }

    fn checkout_dir(&self, url: &GitUrl, commit: Oid) -> PathBuf {
        self.root
            .join("checkouts")
            .join(url.cache_key())
            .join(commit.to_string())
    }

    /// Fetches `url` into its bare cache and resolves `reference` to a commit.
    pub fn fetch(&self, url: &GitUrl, reference: &GitReference) -> Result<Oid, GitError> {
        validate(reference)?;
        let repo = self.database(url)?;
        let mut remote = repo
            .remote_anonymous(url.as_str())
            .map_err(|e| Self::git_err(url, e))?;
        // `+` on tags: a tag that moved upstream moves here too.
        let refspecs = [
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
            "+HEAD:refs/remotes/origin/HEAD",
        ];
        with_retries(&self.network, url, || {
            let mut options = FetchOptions::new();
            options.download_tags(git2::AutotagOption::None);
            options.remote_callbacks(crate::git_login::callbacks());
            remote.fetch(&refspecs, Some(&mut options), None)
        })?;
        Self::resolve(&repo, url, reference)
    }

    fn resolve(repo: &Repository, url: &GitUrl, reference: &GitReference) -> Result<Oid, GitError> {
        let not_found = || GitError::NotFound {
            url: url.redacted(),
            what: describe(reference),
        };
        let spec = match reference {
            GitReference::DefaultBranch => "refs/remotes/origin/HEAD".to_owned(),
            GitReference::Branch(b) => format!("refs/remotes/origin/{b}"),
            GitReference::Tag(t) => format!("refs/tags/{t}"),
            GitReference::Rev(r) => {
                // A branch or tag given with `@REV` is fine too.
                for candidate in [format!("refs/remotes/origin/{r}"), format!("refs/tags/{r}")] {
                    if let Ok(reference) = repo.find_reference(&candidate) {
                        return reference
                            .peel_to_commit()
                            .map(|c| c.id())
                            .map_err(|e| Self::git_err(url, e));
                    }
                }
                r.clone()
            }
        };
        let object = repo.revparse_single(&spec).map_err(|_| not_found())?;
        object
            .peel_to_commit()
            .map(|c| c.id())
            .map_err(|_| not_found())
    }

    /// Checks out `commit` into a directory keyed by it and returns that
    /// directory. A complete checkout is reused; a partial one is redone.
    pub fn checkout(&self, url: &GitUrl, commit: Oid) -> Result<PathBuf, GitError> {
        let dest = self.checkout_dir(url, commit);
        let marker = dest.join(".scope-checkout-ok");
        if marker.is_file() {
            return Ok(dest);
        }
        let repo = self.database(url)?;
        let object = repo
            .find_object(commit, None)
            .map_err(|e| Self::git_err(url, e))?;
        let tree = object.peel_to_tree().map_err(|e| Self::git_err(url, e))?;
        if tree.get_name(".gitmodules").is_some() {
            return Err(GitError::Submodules {
                url: url.redacted(),
                commit: commit.to_string(),
            });
        }
        let parent = dest.parent().expect("checkouts have a parent");
        fs_err::create_dir_all(parent).map_err(|e| Self::io_err(url, e))?;
        if dest.exists() {
            fs_err::remove_dir_all(&dest).map_err(|e| Self::io_err(url, e))?;
        }
        let staging = tempfile::Builder::new()
            .prefix(".checkout-")
            .tempdir_in(parent)
            .map_err(|e| Self::io_err(url, e))?;
        let mut builder = git2::build::CheckoutBuilder::new();
        builder.force().target_dir(staging.path());
        repo.checkout_tree(&object, Some(&mut builder))
            .map_err(|e| Self::git_err(url, e))?;
        fs_err::write(
            staging.path().join(".scope-checkout-ok"),
            commit.to_string(),
        )
        .map_err(|e| Self::io_err(url, e))?;
        let staged = staging.keep();
        fs_err::rename(&staged, &dest).map_err(|e| Self::io_err(url, e))?;
        Ok(dest)
    }
}

/// Every ref a remote advertises, with its commit, like `git ls-remote`.
fn remote_refs(url: &GitUrl, network: &HttpSettings) -> Result<Vec<(String, Oid)>, GitError> {
    with_retries(network, url, || {
        let mut remote = git2::Remote::create_detached(url.as_str())?;
        let connection =
            remote.connect_auth(Direction::Fetch, Some(crate::git_login::callbacks()), None)?;
        let refs = connection.list()?;
        Ok(refs
            .iter()
            .map(|head| (head.name().to_owned(), head.oid()))
            .collect())
    })
}

/// Applies the timeout to libgit2's connections and reads. libgit2 keeps
/// it in a process-wide option, so it is set once, before the first
/// network operation.
fn bound_network(network: &HttpSettings) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let millis = i32::try_from(network.timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: libgit2's options are plain process-wide values; `Once`
        // makes this the only writer, and it runs before this process
        // starts any network operation (each one goes through here first).
        #[allow(unsafe_code)]
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(millis);
            let _ = git2::opts::set_server_timeout_in_milliseconds(millis);
        }
    });
}

/// Runs a network operation, retrying transient failures with backoff.
fn with_retries<T>(
    network: &HttpSettings,
    url: &GitUrl,
    mut operation: impl FnMut() -> Result<T, git2::Error>,
) -> Result<T, GitError> {
    bound_network(network);
    let mut attempt = 0;
    loop {
        match operation() {
            Ok(value) => return Ok(value),
            Err(err) if attempt < network.retries && !url.is_local() && is_transient(&err) => {
                let backoff = network.backoff.saturating_mul(1 << attempt.min(10));
                std::thread::sleep(backoff.min(Duration::from_secs(60)));
                attempt += 1;
            }
            Err(err) => {
                let tries = if attempt > 0 {
                    format!(" (after {} attempts)", attempt + 1)
                } else {
                    String::new()
                };
                return Err(GitError::Git {
                    url: url.redacted(),
                    message: format!("{}{tries}", redact(err.message())),
                });
            }
        }
    }
}

/// A failure worth another try: the network, a timeout, a server error;
/// not an answer that says no (4xx), nor a local failure.
fn is_transient(err: &git2::Error) -> bool {
    let message = err.message().to_ascii_lowercase();
    if let Some(status) = message.split("status code: ").nth(1) {
        return status.starts_with('5') || status.starts_with("429");
    }
    matches!(err.class(), git2::ErrorClass::Net | git2::ErrorClass::Http)
        || message.contains("timed out")
        || message.contains("early eof")
}

/// The commit a remote branch (or the default branch) points at now, like
/// `git ls-remote`, without fetching.
pub fn remote_tip(
    url: &GitUrl,
    branch: Option<&str>,
    network: &HttpSettings,
) -> Result<Oid, GitError> {
    let reference = branch.map_or(GitReference::DefaultBranch, |b| {
        GitReference::Branch(b.to_owned())
    });
    validate(&reference)?;
    let wanted = branch.map_or("HEAD".to_owned(), |b| format!("refs/heads/{b}"));
    let refs = remote_refs(url, network)?;
    let tip = refs
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, oid)| *oid);
    tip.ok_or_else(|| GitError::NotFound {
        url: url.redacted(),
        what: describe(&reference),
    })
}

/// The commit a remote tag points at now (peeled when annotated), without fetching.
pub fn remote_tag(url: &GitUrl, tag: &str, network: &HttpSettings) -> Result<Oid, GitError> {
    let reference = GitReference::Tag(tag.to_owned());
    validate(&reference)?;
    let refs = remote_refs(url, network)?;
    let name = format!("refs/tags/{tag}");
    let peeled = format!("{name}^{{}}");
    refs.iter()
        .find(|(n, _)| *n == peeled)
        .or_else(|| refs.iter().find(|(n, _)| *n == name))
        .map(|(_, oid)| *oid)
        .ok_or_else(|| GitError::NotFound {
            url: url.redacted(),
            what: describe(&reference),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms_and_normalises_them_alike() {
        let forms = [
            "https://Example.org/me/color-generator.git",
            "https://example.org/me/color-generator",
            "git+https://example.org/me/color-generator/",
        ];
        let normalized: Vec<String> = forms
            .iter()
            .map(|u| GitUrl::parse(u).unwrap().normalized().to_owned())
            .collect();
        assert!(
            normalized
                .iter()
                .all(|n| n == "https://example.org/me/color-generator"),
            "{normalized:?}"
        );
        assert_eq!(
            GitUrl::parse("git@example.org:me/fx.git")
                .unwrap()
                .normalized(),
            "ssh://git@example.org/me/fx"
        );
        assert_eq!(
            GitUrl::parse("git+ssh://git@example.org/me/fx")
                .unwrap()
                .normalized(),
            "ssh://git@example.org/me/fx"
        );
        assert_eq!(
            GitUrl::parse("file:///srv/repos/fx").unwrap().normalized(),
            "file:///srv/repos/fx"
        );
    }

    #[test]
    fn refuses_dangerous_and_unknown_forms() {
        for (url, why) in [
            ("-uhelp", "starts with `-`"),
            ("ext::sh -c touch% /tmp/pwned", "spaces"),
            ("ext::sh", "`ext::` transport"),
            ("fd::17", "`fd::` transport"),
            ("git+ext::x", "`ext::` transport"),
            ("http://example.org/x", "plain http"),
            ("http://127.0.0.1.example.org/x", "plain http"),
            ("http://user@evil.org:80/127.0.0.1/x", "plain http"),
            ("ftp://example.org/x", "`ftp` scheme"),
            ("/srv/repos/x", "no scheme"),
            ("https:///x", "no host"),
        ] {
            let err = GitUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn plain_http_is_accepted_to_this_machine_only() {
        for url in [
            "http://127.0.0.1:8080/plugins/x",
            "http://localhost/x",
            "http://[::1]:9/x",
            "http://me@127.0.0.1/x",
        ] {
            assert!(GitUrl::parse(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn refuses_revisions_git_could_misread() {
        for rev in ["-x", "a b", "a..b", "x^", "@{-1}", ""] {
            assert!(validate(&GitReference::Rev(rev.into())).is_err(), "{rev}");
        }
        validate(&GitReference::Tag("v1.0.0".into())).unwrap();
        validate(&GitReference::Branch("feature/x".into())).unwrap();
    }

    #[test]
    fn credentials_never_reach_messages() {
        let err = GitUrl::parse("ftp://me:pw@example.org/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw"), "{err}");
    }
}
