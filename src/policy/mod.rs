//! `policy.toml`: what a home may install and import. It sits beside
//! `plugins.toml` and is committed with it (`--policy FILE` overrides).
//! Rules are checked while planning — the specs before anything is
//! fetched, the resolved pins before anything is downloaded, the host's
//! licences before anything is compiled — and every broken rule is
//! reported with the file and line it is written on ([`Finding`]).

pub mod check;
mod license;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use toml_edit::{ImDocument, Item};

use crate::error::Hinted;

pub use check::Finding;

/// A rule's value and the line it is written on.
#[derive(Debug, Clone)]
pub struct Rule<T> {
    pub value: T,
    pub line: usize,
}

/// How strictly builds (and hosts) are sandboxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sandbox {
    /// Refuse to build where the kernel cannot enforce the sandbox
    Required,
    /// Sandbox where the kernel can; say so once where it cannot
    BestEffort,
    /// No sandbox
    Off,
}

/// A parsed `policy.toml`. Absent rules allow everything.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file, for messages.
    pub file: PathBuf,
    pub sandbox: Rule<Sandbox>,
    /// `[allow] path`: path plugins allowed.
    pub path: Option<Rule<bool>>,
    /// `[allow] git`: URL globs (`*` matches any run of characters).
    pub git: Option<Rule<Vec<String>>>,
    /// `[allow] registries`: registry names (`default` for cargo's own).
    pub registries: Option<Rule<Vec<String>>>,
    /// `[allow] licenses`: SPDX identifiers.
    pub licenses: Option<Rule<Vec<String>>>,
    /// `[allow] yanked`: yanked versions allowed (even when locked).
    pub yanked: Option<Rule<bool>>,
    /// `[allow] min-release-age`.
    pub min_release_age: Option<Rule<Duration>>,
    /// `[imports] require-signature`.
    pub require_signature: Option<Rule<bool>>,
    /// `[imports] keys`, relative to the policy file's directory.
    pub keys: Vec<PathBuf>,
}

impl Policy {
    /// The policy at `explicit` (`--policy`, which must exist), else
    /// `policy.toml` in `home` when there is one.
    pub fn find(home: &Path, explicit: Option<&Path>) -> Result<Option<Policy>> {
        let path = match explicit {
            Some(path) => {
                if !path.is_file() {
                    bail!(Hinted::new(
                        format!("no policy file {}", path.display()),
                        "check the path given to --policy",
                    ));
                }
                path.to_path_buf()
            }
            None => {
                let path = home.join("policy.toml");
                if !path.is_file() {
                    return Ok(None);
                }
                path
            }
        };
        let text = fs_err::read_to_string(&path)?;
        Policy::parse(&path, &text).map(Some)
    }

    /// Parses `text`, read from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Policy> {
        let bad = |line: usize, what: String| -> anyhow::Error {
            Hinted::new(
                format!("{}:{line}: {what}", file.display()),
                "README: Trust lists the rules policy.toml takes",
            )
            .into()
        };
        // The immutable document keeps every item's span, for the lines.
        let document = ImDocument::parse(text).map_err(|e: toml_edit::TomlError| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            bad(line, format!("not valid TOML: {}", e.message()))
        })?;
        let line = |item: &Item| item.span().map_or(1, |s| line_of(text, s.start));
        let mut policy = Policy {
            file: file.to_path_buf(),
            sandbox: Rule {
                value: Sandbox::BestEffort,
                line: 0,
            },
            path: None,
            git: None,
            registries: None,
            licenses: None,
            yanked: None,
            min_release_age: None,
            require_signature: None,
            keys: Vec::new(),
        };
        for (key, item) in document.iter() {
            let at = line(item);
            match key {
                "sandbox" => {
                    let value = match item.as_str() {
                        Some("required") => Sandbox::Required,
                        Some("best-effort") => Sandbox::BestEffort,
                        Some("off") => Sandbox::Off,
                        _ => {
                            return Err(bad(
                                at,
                                "`sandbox` is \"required\", \"best-effort\" or \"off\"".into(),
                            ))
                        }
                    };
                    policy.sandbox = Rule { value, line: at };
                }
                "allow" | "imports" => {
                    let Some(table) = item.as_table_like() else {
                        return Err(bad(at, format!("`{key}` is a table")));
                    };
                    for (name, value) in table.iter() {
                        policy
                            .set(key, name, value, line(value))
                            .map_err(|e| bad(line(value), e))?;
                    }
                }
                other => return Err(bad(at, format!("unknown key `{other}`"))),
            }
        }
        Ok(policy)
    }

    fn set(&mut self, table: &str, key: &str, item: &Item, line: usize) -> Result<(), String> {
        let boolean = || {
            item.as_bool()
                .map(|value| Rule { value, line })
                .ok_or(format!("`{table}.{key}` is true or false"))
        };
        let strings = || {
            item.as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .map(|value| Rule { value, line })
                .ok_or(format!("`{table}.{key}` is a list of strings"))
        };
        match (table, key) {
            ("allow", "path") => self.path = Some(boolean()?),
            ("allow", "yanked") => self.yanked = Some(boolean()?),
            ("allow", "git") => self.git = Some(strings()?),
            ("allow", "registries") => self.registries = Some(strings()?),
            ("allow", "licenses") => self.licenses = Some(strings()?),
            ("allow", "min-release-age") => {
                let text = item
                    .as_str()
                    .ok_or("`allow.min-release-age` is a duration such as \"7d\"")?;
                let value = parse_age(text).ok_or(format!(
                    "`allow.min-release-age = \"{text}\"` is not a duration: write a number and a unit (s, m, h, d, w), e.g. \"7d\""
                ))?;
                self.min_release_age = Some(Rule { value, line });
            }
            ("imports", "require-signature") => self.require_signature = Some(boolean()?),
            ("imports", "keys") => {
                let dir = self.file.parent().unwrap_or(Path::new("."));
                self.keys = strings()?.value.iter().map(|k| dir.join(k)).collect();
            }
            _ => return Err(format!("unknown key `{key}` in [{table}]")),
        }
        Ok(())
    }

    /// The keys an import must be signed with, when the policy requires a
    /// signature.
    pub fn import_keys(&self) -> Result<Option<&[PathBuf]>> {
        match &self.require_signature {
            Some(Rule { value: true, line }) => {
                if self.keys.is_empty() {
                    bail!(Hinted::new(
                        format!(
                            "{}:{line}: `imports.require-signature` is set, and `imports.keys` names no key",
                            self.file.display()
                        ),
                        "list the trusted `.pub` files in `keys = [...]`",
                    ));
                }
                Ok(Some(&self.keys))
            }
            _ => Ok(None),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// `"7d"`, `"12h"`, `"30m"`, `"90s"`, `"2w"`.
fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(number * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_example_parses_with_its_lines() {
        let text = r#"sandbox = "best-effort"

[allow]
path = true
git = ["https://git.example.org/acme/*"]
registries = ["default", "acme"]
licenses = ["MIT", "Apache-2.0", "BSD-3-Clause"]
yanked = false
min-release-age = "7d"

[imports]
require-signature = true
keys = ["keys/ops.pub"]
"#;
        let policy = Policy::parse(Path::new("/h/policy.toml"), text).unwrap();
        assert_eq!(policy.git.as_ref().unwrap().line, 5);
        assert_eq!(policy.licenses.as_ref().unwrap().line, 7);
        assert_eq!(
            policy.min_release_age.as_ref().unwrap().value,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(policy.keys, [PathBuf::from("/h/keys/ops.pub")]);
        let typo = Policy::parse(Path::new("p.toml"), "[allow]\n\nlicences = []\n").unwrap_err();
        assert_eq!(
            typo.to_string(),
            "p.toml:3: unknown key `licences` in [allow]"
        );
    }
}
