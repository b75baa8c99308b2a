//! Evaluating a [`Policy`]: each check returns every broken rule as a
//! [`Finding`]; [`refuse`] turns findings into one error that lists them.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use scope_lockfile::{Pin, PinSource, PluginSpec};
use serde::Serialize;

use super::{license, Policy, Rule};
use crate::error::Hinted;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `allow.git`, `allow.licenses`, …
    pub rule: String,
    pub file: PathBuf,
    pub line: usize,
    /// What breaks it: "plugin `fx`", "crate `foo v1.2.3`".
    pub subject: String,
    /// How.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {} {}",
            self.file.display(),
            self.line,
            self.rule,
            self.subject,
            self.message
        )
    }
}

/// A registry version's facts from its index entry.
pub struct Published {
    pub yanked: bool,
    /// RFC 3339 (`pubtime`); `None` in entries written before registries
    /// recorded one, which count as old enough.
    pub time: Option<String>,
}

/// The name a registry has in the policy: cargo's own is `default`.
fn registry_name(name: Option<&str>) -> &str {
    match name {
        None | Some("crates-io") => "default",
        Some(other) => other,
    }
}

impl Policy {
    fn finding<T>(&self, rule: &str, at: &Rule<T>, subject: String, message: String) -> Finding {
        Finding {
            rule: rule.to_owned(),
            file: self.file.clone(),
            line: at.line,
            subject,
            message,
        }
    }

    /// Where plugins come from, as `plugins.toml` asks (each named as the
    /// message should say it: "plugin `fx`"): checked before anything is
    /// fetched.
    pub fn check_specs<'a>(
        &self,
        specs: impl IntoIterator<Item = (String, &'a PluginSpec)>,
    ) -> Vec<Finding> {
        specs
            .into_iter()
            .filter_map(|(subject, spec)| match spec {
                PluginSpec::Registry { registry, .. } => {
                    self.registry_allowed(registry.as_deref(), subject)
                }
                PluginSpec::Git { url, .. } => self.git_allowed(url, subject),
                PluginSpec::Path { path } => {
                    self.path_allowed(&path.display().to_string(), subject)
                }
            })
            .collect()
    }

    /// The resolved plugins (dependencies included): their sources, and
    /// for registry versions whether they are yanked or too new.
    pub fn check_pins(
        &self,
        pins: &[Pin],
        published: impl Fn(&Pin) -> Option<Published>,
        now: SystemTime,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        for pin in pins {
            let subject = format!("plugin `{} v{}`", pin.name, pin.version);
            let source = match &pin.source {
                PinSource::Registry { registry, .. } => {
                    self.registry_allowed(Some(registry), subject.clone())
                }
                PinSource::Git { url, .. } => self.git_allowed(url, subject.clone()),
                PinSource::Path { path } => {
                    self.path_allowed(&path.display().to_string(), subject.clone())
                }
            };
            findings.extend(source);
            let Some(published) = published(pin) else {
                continue;
            };
            if let Some(rule @ Rule { value: false, .. }) = &self.yanked {
                if published.yanked {
                    findings.push(self.finding(
                        "allow.yanked",
                        rule,
                        subject.clone(),
                        "is yanked from its registry".into(),
                    ));
                }
            }
            if let (Some(rule), Some(time)) = (&self.min_release_age, &published.time) {
                if let Some(age) = age_of(time, now) {
                    if age < rule.value {
                        findings.push(self.finding(
                            "allow.min-release-age",
                            rule,
                            subject.clone(),
                            format!(
                                "was published {time}, {} ago; the policy wants {}",
                                crate::time::human_duration(age),
                                crate::time::human_duration(rule.value)
                            ),
                        ));
                    }
                }
            }
        }
        findings
    }

    /// The licences of every package the host is built from, plugins
    /// named by `is_plugin`.
    pub fn check_licenses(
        &self,
        packages: &[crate::host_build::Package],
        is_plugin: impl Fn(&str) -> bool,
    ) -> Vec<Finding> {
        let Some(rule) = &self.licenses else {
            return Vec::new();
        };
        packages
            .iter()
            .filter_map(|package| {
                let (name, version) = (&package.name, &package.version);
                let kind = if is_plugin(name) { "plugin" } else { "crate" };
                let subject = format!("{kind} `{name} v{version}`");
                match &package.license {
                    Some(e) if license::satisfied(e, &rule.value) => None,
                    Some(e) => Some(self.finding(
                        "allow.licenses",
                        rule,
                        subject,
                        format!("is licensed `{e}`, which the allowed licences do not cover"),
                    )),
                    None => Some(self.finding(
                        "allow.licenses",
                        rule,
                        subject,
                        "declares no licence (`license` in its Cargo.toml)".into(),
                    )),
                }
            })
            .collect()
    }

    fn registry_allowed(&self, registry: Option<&str>, subject: String) -> Option<Finding> {
        let rule = self.registries.as_ref()?;
        let name = registry_name(registry);
        (!rule.value.iter().any(|r| r == name)).then(|| {
            self.finding(
                "allow.registries",
                rule,
                subject,
                format!("comes from registry `{name}`, which is not allowed"),
            )
        })
    }

    fn git_allowed(&self, url: &str, subject: String) -> Option<Finding> {
        let rule = self.git.as_ref()?;
        (!rule.value.iter().any(|pattern| glob_matches(pattern, url))).then(|| {
            self.finding(
                "allow.git",
                rule,
                subject,
                format!("comes from {url}, which no allowed pattern matches"),
            )
        })
    }

    fn path_allowed(&self, path: &str, subject: String) -> Option<Finding> {
        let rule = self.path.as_ref().filter(|r| !r.value)?;
        Some(self.finding(
            "allow.path",
            rule,
            subject,
            format!("is a path plugin ({path}), and path plugins are not allowed"),
        ))
    }
}

/// `*` matches any run of characters (slashes too); the rest is literal.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn age_of(time: &str, now: SystemTime) -> Option<Duration> {
    let published = crate::time::parse_rfc3339(time)?;
    Some(now.duration_since(published).unwrap_or_default())
}

/// Nothing when there are no findings; else one error listing them all.
pub fn refuse(findings: &[Finding]) -> Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    let file = findings[0].file.display();
    let lines: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
    Err(Hinted::new(
        format!(
            "the policy refuses this; nothing was changed:\n{}",
            lines.join("\n")
        ),
        format!("choose other plugins or versions, or change the rules in {file} (`--policy FILE` uses another)"),
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_match_urls() {
        let p = "https://git.example.org/acme/*";
        assert!(glob_matches(p, "https://git.example.org/acme/fx"));
        assert!(glob_matches(p, "https://git.example.org/acme/sub/fx.git"));
        assert!(!glob_matches(p, "https://git.example.org/evil/fx"));
        assert!(glob_matches("*", "file:///x"));
        assert!(glob_matches("https://a/*/b*", "https://a/x/by"));
        assert!(!glob_matches("https://a", "https://ab"));
    }
}
