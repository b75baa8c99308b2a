//! What a plugin may do beyond computing on frames: the capabilities it
//! declares (`[package.metadata.scope] capabilities = [...]`) and the user
//! grants (`--allow CAP`, recorded under `[allow]` in `plugins.toml`).
//! With none declared a plugin gets none.
//!
//! | capability | grants |
//! |---|---|
//! | `net:connect` / `net:connect=PORT` | outbound TCP (to any port / to PORT) |
//! | `net:listen=PORT` | accepting TCP on PORT |
//! | `fs:read=PATH` | reading PATH (a file, or a directory and what is under it) |
//! | `fs:write=PATH` | writing, creating and removing under PATH (reading too) |
//! | `exec` | starting processes |
//! | `gpu` | the GPU device nodes (`/dev/dri`, `/dev/nvidia*`) |

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Outbound TCP; `None`: to any port.
    Connect(Option<u16>),
    Listen(u16),
    Read(PathBuf),
    Write(PathBuf),
    Exec,
    Gpu,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Connect(None) => write!(f, "net:connect"),
            Capability::Connect(Some(port)) => write!(f, "net:connect={port}"),
            Capability::Listen(port) => write!(f, "net:listen={port}"),
            Capability::Read(path) => write!(f, "fs:read={}", path.display()),
            Capability::Write(path) => write!(f, "fs:write={}", path.display()),
            Capability::Exec => write!(f, "exec"),
            Capability::Gpu => write!(f, "gpu"),
        }
    }
}

/// Why a capability does not read.
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a capability: {why}; the vocabulary is net:connect[=PORT], net:listen=PORT, fs:read=PATH, fs:write=PATH, exec, gpu")]
pub struct BadCapability {
    text: String,
    why: &'static str,
}

impl FromStr for Capability {
    type Err = BadCapability;

    fn from_str(text: &str) -> Result<Capability, BadCapability> {
        let bad = |why| BadCapability {
            text: text.to_owned(),
            why,
        };
        let (kind, value) = match text.split_once('=') {
            Some((kind, value)) => (kind, Some(value)),
            None => (text, None),
        };
        let port = |value: Option<&str>| {
            value
                .ok_or(bad("it needs a port (`=PORT`)"))?
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(bad("the port is not a number from 1 to 65535"))
        };
        let path = |value: Option<&str>| {
            let path = PathBuf::from(value.ok_or(bad("it needs a path (`=PATH`)"))?);
            if !path.is_absolute() {
                return Err(bad("the path must be absolute"));
            }
            Ok(path)
        };
        match kind {
            "net:connect" => Ok(Capability::Connect(match value {
                None => None,
                some => Some(port(some)?),
            })),
            "net:listen" => Ok(Capability::Listen(port(value)?)),
            "fs:read" => Ok(Capability::Read(path(value)?)),
            "fs:write" => Ok(Capability::Write(path(value)?)),
            "exec" | "gpu" if value.is_some() => Err(bad("it takes no value")),
            "exec" => Ok(Capability::Exec),
            "gpu" => Ok(Capability::Gpu),
            _ => Err(bad("unknown kind")),
        }
    }
}

impl Capability {
    /// Whether having `self` granted covers a plugin asking for `asked`.
    pub fn covers(&self, asked: &Capability) -> bool {
        match (self, asked) {
            (Capability::Connect(None), Capability::Connect(_)) => true,
            (Capability::Write(granted), Capability::Read(wanted))
            | (Capability::Write(granted), Capability::Write(wanted))
            | (Capability::Read(granted), Capability::Read(wanted)) => wanted.starts_with(granted),
            (granted, wanted) => granted == wanted,
        }
    }
}

/// What one command grants (`--allow CAP`, `--allow-all`).
#[derive(Debug, Clone, Default)]
pub struct Grant {
    pub capabilities: Vec<Capability>,
    pub all: bool,
    /// Ask on the terminal for what is not granted (a person runs the
    /// command; never in CI, where stdin is not a terminal).
    pub ask: bool,
}

impl Grant {
    /// Whether this command grants `asked`.
    pub fn covers(&self, asked: &Capability) -> bool {
        self.all || self.capabilities.iter().any(|g| g.covers(asked))
    }
}

/// The capabilities `asked` that `granted` does not cover.
pub fn missing<'a>(asked: &'a [Capability], granted: &[Capability]) -> Vec<&'a Capability> {
    asked
        .iter()
        .filter(|a| !granted.iter().any(|g| g.covers(a)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(text: &str) -> Capability {
        text.parse().unwrap()
    }

    #[test]
    fn the_vocabulary_reads_and_prints_back() {
        for text in [
            "net:connect",
            "net:connect=443",
            "net:listen=7860",
            "fs:read=/models",
            "fs:write=/var/cache/fx",
            "exec",
            "gpu",
        ] {
            assert_eq!(cap(text).to_string(), text);
        }
        for bad in [
            "net:listen",
            "fs:read=models",
            "exec=1",
            "net:connect=0",
            "disk",
        ] {
            assert!(bad.parse::<Capability>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_grant_covers_what_it_contains() {
        assert!(cap("net:connect").covers(&cap("net:connect=443")));
        assert!(!cap("net:connect=443").covers(&cap("net:connect")));
        assert!(cap("fs:read=/models").covers(&cap("fs:read=/models/sd")));
        assert!(!cap("fs:read=/models").covers(&cap("fs:read=/modelsx")));
        assert!(cap("fs:write=/data").covers(&cap("fs:read=/data/x")));
        assert!(!cap("fs:read=/data").covers(&cap("fs:write=/data")));
        let asked = [cap("exec"), cap("gpu")];
        assert_eq!(missing(&asked, &[cap("gpu")]), [&cap("exec")]);
    }
}
