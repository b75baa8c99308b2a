//! `policy check`: the home's plugins and lock, measured against its
//! policy as a change would be — sources, yanked and too-new versions,
//! and the licences of every package of the active host.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use scope_lockfile::PinSource;
use serde::Serialize;

use super::registries::DEFAULT_REGISTRY;
use super::sources::Sources;
use crate::error::Hinted;
use crate::home::Home;
use crate::host_build::HostBuilder;
use crate::policy::check::Published;
use crate::policy::{Finding, Policy};
use crate::reporter::Reporter;
use crate::settings::Settings;

/// What `policy check` found.
#[derive(Debug, Serialize)]
pub struct PolicyReport {
    pub version: u32,
    pub policy: PathBuf,
    pub passed: bool,
    pub findings: Vec<Finding>,
    /// How many plugins and third-party crates were checked.
    pub plugins: usize,
    pub crates: usize,
}

pub fn check(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
) -> Result<PolicyReport> {
    let Some(policy) = Policy::find(home.root(), settings.policy.as_deref())? else {
        bail!(Hinted::new(
            format!("{} has no policy.toml", home.root().display()),
            "write one beside plugins.toml (README: Trust), or give `--policy FILE`",
        ));
    };
    let desired = home.plugins_toml()?;
    let Some(lock) = home.lock_file()? else {
        bail!(Hinted::new(
            format!("{} is missing", home.resolved_lock_path().display()),
            "run `scopectl sync` first: the policy is checked against what is locked",
        ));
    };
    // Specs the lock does not pin yet; the pins say the rest.
    let specs = desired
        .plugins()
        .iter()
        .filter(|(n, _)| !lock.plugins.iter().any(|p| p.name == **n))
        .map(|(n, s)| (format!("plugin `{n}`"), s));
    let mut findings = policy.check_specs(specs);
    // Index entries only when a rule needs them.
    let mut published: BTreeMap<String, Published> = BTreeMap::new();
    if policy.yanked.is_some() || policy.min_release_age.is_some() {
        let sources = Sources::of(
            home,
            Some(&lock),
            desired.registries().clone(),
            settings,
            reporter,
        );
        let mut by_registry: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for pin in &lock.plugins {
            if let PinSource::Registry { registry, .. } = &pin.source {
                by_registry
                    .entry(registry)
                    .or_default()
                    .push(pin.name.to_string());
            }
        }
        for (registry, names) in by_registry {
            let named = (registry != DEFAULT_REGISTRY).then_some(registry);
            for (name, krate) in sources.registries.collect(named, &names)? {
                let Some(pin) = lock.plugins.iter().find(|p| p.name.as_str() == name) else {
                    continue;
                };
                let wanted = pin.version.to_string();
                if let Some(v) = krate.versions.iter().find(|v| v.version == wanted) {
                    let time = v.pubtime.as_ref().map(|t| t.to_string());
                    published.insert(
                        name,
                        Published {
                            yanked: v.yanked,
                            time,
                        },
                    );
                }
            }
        }
    }
    let now = std::time::SystemTime::now();
    findings.extend(policy.check_pins(
        &lock.plugins,
        |pin| {
            published.get(pin.name.as_str()).map(|p| Published {
                yanked: p.yanked,
                time: p.time.clone(),
            })
        },
        now,
    ));
    if policy.licenses.is_some() {
        let builder = HostBuilder::new(&home.build_dir(), &settings.build);
        let packages = builder.packages_of_last_build().map_err(|e| {
            Hinted::new(
                format!("cannot read the licences of the active host's packages: {e:#}"),
                "run `scopectl sync` here first (an imported generation has no build to read)",
            )
        })?;
        let is_plugin = |name: &str| lock.plugins.iter().any(|p| p.name.as_str() == name);
        findings.extend(policy.check_licenses(&packages, is_plugin));
    }
    findings.sort_by(|a, b| (a.line, &a.subject).cmp(&(b.line, &b.subject)));
    findings.dedup();
    Ok(PolicyReport {
        version: 1,
        policy: policy.file.clone(),
        passed: findings.is_empty(),
        findings,
        plugins: lock.plugins.len(),
        crates: lock.crates.len(),
    })
}
