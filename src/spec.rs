//! Plugin specs as users type them on the command line (the contract's §5):
//! registry crates, git URLs, local directories and `scope://` deep links.

use std::path::PathBuf;

use scope_lockfile::{GitReference, PluginSpec};
use scope_name::PluginName;
use scope_registry_client::git::GitUrl;
use semver::{Version, VersionReq};

/// What the user asked to install: a name where the spec gives one (git
/// and path plugins are named by their crate, known once fetched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// The plugin's name, for registry specs.
    pub name: Option<PluginName>,
    /// Where it comes from.
    pub spec: PluginSpec,
    /// A git `URL@REV`: whether REV is a branch, tag or commit is decided
    /// once the repository is fetched (`--branch`, `--tag`, `--rev` say it).
    pub rev_to_classify: bool,
}

/// `--branch`, `--tag` or `--rev` given beside the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefFlags {
    /// `--branch`.
    pub branch: Option<String>,
    /// `--tag`.
    pub tag: Option<String>,
    /// `--rev`.
    pub rev: Option<String>,
}

const ACCEPTED: &str = "\
accepted forms:
  NAME, NAME@REQ, NAME==VERSION, NAME@=VERSION        a registry crate (e.g. scope-invert@0.2)
  https://host/owner/repo[.git][@REV], git+https://…  a git repository (also ssh://, git+ssh://,
  git@host:owner/repo, file:///path/to/repo            scp-like and file://); REV is a branch, tag or commit
  /path, ./path, ../path, ~/path, C:\\path            a local directory (editable)
  scope://install-plugin?package=SPEC                 a deep link";

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{spec}` is not a plugin spec: {reason}\n{ACCEPTED}")]
pub struct SpecError {
    /// The spec as typed.
    pub spec: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses one spec; `registry` is `--registry NAME`, `flags` the git ref flags.
pub fn parse(spec: &str, registry: Option<&str>, flags: &RefFlags) -> Result<Requested, SpecError> {
    let refuse = |reason: &str| SpecError {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(query) = spec.strip_prefix("scope://install-plugin?") {
        let package = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("package="))
            .ok_or_else(|| refuse("the deep link has no `package=` parameter"))?;
        let inner = percent_decode(package)
            .ok_or_else(|| refuse("the deep link's `package` is not valid percent-encoding"))?;
        if inner.starts_with("scope://") {
            return Err(refuse("a deep link cannot contain another deep link"));
        }
        return parse(&inner, registry, flags);
    }
    if spec.starts_with("scope://") {
        return Err(refuse(
            "the only deep link is `scope://install-plugin?package=…`",
        ));
    }
    let ref_flags = [&flags.branch, &flags.tag, &flags.rev]
        .iter()
        .filter(|f| f.is_some())
        .count();
    if ref_flags > 1 {
        return Err(refuse(
            "give at most one of `--branch`, `--tag` and `--rev`",
        ));
    }
    if is_local(spec) {
        if ref_flags > 0 || registry.is_some() {
            return Err(refuse(
                "a local directory takes no `--branch`, `--tag`, `--rev` or `--registry`",
            ));
        }
        return Ok(Requested {
            rev_to_classify: false,
            name: None,
            // `~/` is expanded with the other settings, when the path is made absolute.
            spec: PluginSpec::Path {
                path: PathBuf::from(spec),
            },
        });
    }
    if is_git(spec) {
        if registry.is_some() {
            return Err(refuse("a git repository takes no `--registry`"));
        }
        return git(spec, flags).map_err(|reason| refuse(&reason));
    }
    if ref_flags > 0 {
        return Err(refuse("`--branch`, `--tag` and `--rev` go with git URLs"));
    }
    registry_crate(spec, registry).map_err(|reason| refuse(&reason))
}

fn is_local(spec: &str) -> bool {
    let bytes = spec.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    ["/", "./", "../", "~/", ".\\", "..\\"]
        .iter()
        .any(|p| spec.starts_with(p))
        || drive
        || spec == "."
        || spec == ".."
}

fn is_git(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    [
        "https://",
        "http://",
        "git+https://",
        "git+http://",
        "ssh://",
        "git+ssh://",
        "file://",
        "git+file://",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        || scp_like(spec)
}

/// `user@host:path`: an `@` before a `:` and no `/` before the `:`.
fn scp_like(spec: &str) -> bool {
    match (spec.find('@'), spec.find(':'), spec.find('/')) {
        (Some(at), Some(colon), slash) => at < colon && slash.is_none_or(|s| s > colon),
        _ => false,
    }
}

fn git(spec: &str, flags: &RefFlags) -> Result<Requested, String> {
    let lower = spec.to_ascii_lowercase();
    if (lower.starts_with("http://") || lower.starts_with("git+http://"))
        && GitUrl::parse(spec).is_err()
    {
        return Err(
            "plain http is not allowed for git (only to this machine); use https:// or ssh://"
                .into(),
        );
    }
    // The `@` that separates REV is the one after the last `/`.
    let last_slash = spec.rfind('/').unwrap_or(0);
    let (url, rev) = match spec[last_slash..].rfind('@') {
        Some(at) if !scp_like(&spec[last_slash..]) || last_slash > 0 => {
            let at = last_slash + at;
            (&spec[..at], Some(&spec[at + 1..]))
        }
        _ => (spec, None),
    };
    if rev == Some("") {
        return Err("nothing follows `@`; give a branch, tag or commit".into());
    }
    let flagged = flags.branch.is_some() || flags.tag.is_some() || flags.rev.is_some();
    if rev.is_some() && flagged {
        return Err("give the revision once: either `@REV` or `--branch`/`--tag`/`--rev`".into());
    }
    let reference = match (rev, &flags.branch, &flags.tag, &flags.rev) {
        (Some(r), ..) => GitReference::Rev(r.to_owned()),
        (None, Some(b), ..) => GitReference::Branch(b.clone()),
        (None, _, Some(t), _) => GitReference::Tag(t.clone()),
        (None, _, _, Some(r)) => GitReference::Rev(r.clone()),
        (None, None, None, None) => GitReference::DefaultBranch,
    };
    let url = url.strip_prefix("git+").unwrap_or(url);
    Ok(Requested {
        rev_to_classify: rev.is_some(),
        name: None,
        spec: PluginSpec::Git {
            url: url.to_owned(),
            reference,
        },
    })
}

fn registry_crate(spec: &str, registry: Option<&str>) -> Result<Requested, String> {
    let (name, req) = if let Some((name, version)) = spec.split_once("==") {
        let version =
            Version::parse(version).map_err(|e| format!("`{version}` is not a version: {e}"))?;
        (
            name,
            VersionReq::parse(&format!("={version}")).expect("an exact version is a requirement"),
        )
    } else if let Some((name, req)) = spec.split_once('@') {
        (
            name,
            VersionReq::parse(req)
                .map_err(|e| format!("`{req}` is not a version requirement: {e}"))?,
        )
    } else {
        (spec, VersionReq::STAR)
    };
    let name =
        PluginName::new(name).map_err(|e| format!("it is not a plugin name: {}", e.reason))?;
    Ok(Requested {
        rev_to_classify: false,
        name: Some(name),
        spec: PluginSpec::Registry {
            req,
            registry: registry.map(str::to_owned),
        },
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(spec: &str) -> Requested {
        parse(spec, None, &RefFlags::default()).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    fn registry(name: &str, req: &str) -> Requested {
        Requested {
            rev_to_classify: false,
            name: Some(name.parse().unwrap()),
            spec: PluginSpec::Registry {
                req: VersionReq::parse(req).unwrap(),
                registry: None,
            },
        }
    }

    fn git(url: &str, reference: GitReference) -> Requested {
        Requested {
            rev_to_classify: matches!(reference, GitReference::Rev(_)),
            name: None,
            spec: PluginSpec::Git {
                url: url.into(),
                reference,
            },
        }
    }

    #[test]
    fn registry_forms() {
        assert_eq!(ok("scope-invert"), registry("scope-invert", "*"));
        assert_eq!(ok("scope-invert@0.2"), registry("scope-invert", "0.2"));
        assert_eq!(
            ok("scope-invert==0.2.1"),
            registry("scope-invert", "=0.2.1")
        );
        assert_eq!(
            ok("scope-invert@=0.2.1"),
            registry("scope-invert", "=0.2.1")
        );
        assert_eq!(
            ok("scope_invert"),
            registry("scope-invert", "*"),
            "names normalise `_` to `-`"
        );
        let acme = parse("acme-fx@^1.2", Some("acme"), &RefFlags::default()).unwrap();
        assert_eq!(
            acme.spec,
            PluginSpec::Registry {
                req: VersionReq::parse("^1.2").unwrap(),
                registry: Some("acme".into())
            }
        );
    }

    #[test]
    fn git_forms_and_where_rev_starts() {
        use GitReference::*;
        assert_eq!(
            ok("https://example.org/me/fx"),
            git("https://example.org/me/fx", DefaultBranch)
        );
        assert_eq!(
            ok("https://example.org/me/fx.git@v1.0.0"),
            git("https://example.org/me/fx.git", Rev("v1.0.0".into()))
        );
        assert_eq!(
            ok("git+https://example.org/me/fx@main"),
            git("https://example.org/me/fx", Rev("main".into()))
        );
        assert_eq!(
            ok("ssh://git@example.org/me/fx"),
            git("ssh://git@example.org/me/fx", DefaultBranch)
        );
        assert_eq!(
            ok("git+ssh://git@host/repo"),
            git("ssh://git@host/repo", DefaultBranch),
            "the `@` before the last `/` is not a REV"
        );
        assert_eq!(
            ok("git@example.org:me/fx"),
            git("git@example.org:me/fx", DefaultBranch)
        );
        assert_eq!(
            ok("git@example.org:me/fx@abc1234"),
            git("git@example.org:me/fx", Rev("abc1234".into()))
        );
        assert_eq!(
            ok("file:///srv/repos/fx"),
            git("file:///srv/repos/fx", DefaultBranch)
        );
        let flags = RefFlags {
            tag: Some("v2".into()),
            ..RefFlags::default()
        };
        assert_eq!(
            parse("https://example.org/me/fx", None, &flags).unwrap(),
            git("https://example.org/me/fx", Tag("v2".into()))
        );
    }

    #[test]
    fn local_forms() {
        for spec in [
            "/home/me/fx",
            "./fx",
            "../fx",
            ".\\fx",
            "..\\fx",
            "C:\\fx",
            "C:/fx",
        ] {
            assert!(matches!(ok(spec).spec, PluginSpec::Path { .. }), "{spec}");
        }
        assert_eq!(
            ok("~/fx").spec,
            PluginSpec::Path {
                path: PathBuf::from("~/fx")
            }
        );
    }

    #[test]
    fn deep_links_carry_a_percent_encoded_spec() {
        assert_eq!(
            ok("scope://install-plugin?package=scope-invert%400.2"),
            registry("scope-invert", "0.2")
        );
        assert_eq!(
            ok("scope://install-plugin?package=https%3A%2F%2Fexample.org%2Fme%2Ffx%40v1"),
            git("https://example.org/me/fx", GitReference::Rev("v1".into()))
        );
    }

    #[test]
    fn everything_else_is_refused_with_the_accepted_forms() {
        for (spec, reason) in [
            ("not a name!", "it is not a plugin name: use only letters"),
            ("fx@banana", "is not a version requirement"),
            ("fx==1.2", "is not a version"),
            ("http://example.org/me/fx", "plain http"),
            ("https://example.org/me/fx@", "nothing follows `@`"),
            ("scope://uninstall?package=x", "the only deep link"),
            ("scope://install-plugin?name=x", "no `package=`"),
            ("scope://install-plugin?package=%ZZ", "percent-encoding"),
        ] {
            let err = parse(spec, None, &RefFlags::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{spec}: {err}");
            assert!(err.contains("accepted forms:"), "{spec}: {err}");
        }
        let both = RefFlags {
            branch: Some("a".into()),
            tag: Some("b".into()),
            rev: None,
        };
        assert!(parse("https://e.org/x", None, &both)
            .unwrap_err()
            .reason
            .contains("at most one"));
        let flag = RefFlags {
            rev: Some("abc".into()),
            ..RefFlags::default()
        };
        assert!(parse("https://e.org/x@main", None, &flag)
            .unwrap_err()
            .reason
            .contains("once"));
        assert!(parse("fx", None, &flag)
            .unwrap_err()
            .reason
            .contains("go with git URLs"));
        assert!(parse("./fx", Some("acme"), &RefFlags::default()).is_err());
    }
}
