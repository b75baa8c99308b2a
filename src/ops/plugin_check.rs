//! Checking a plugin crate before it is published or installed: its
//! `scope-plugin-api` requirement against this scopectl's SDK, its package
//! metadata, its package ([`super::plugin_package`]), and — the real test — a scratch host built with it alone
//! (under the crate's `target/`, no home touched) and that host's
//! self-check, which registers the plugin exactly as an install would and
//! reports every invalid declaration (a parameter's default outside its
//! range, a bad id, a pipeline id taken twice).

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use semver::{Version, VersionReq};
use serde::Serialize;

use crate::documents::DOCUMENT_VERSION;
use crate::error::Hinted;
use crate::host_build::{Graph, HostBuilder};
use crate::plugin_crate::PluginCrate;
use crate::reporter::Reporter;
use crate::settings::Settings;

/// What `scopectl check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// [`DOCUMENT_VERSION`].
    pub version: u32,
    /// The plugin's name.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// Each finding, in the order checked.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// No finding is an error.
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.level != Level::Error)
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// How much it matters.
    pub level: Level,
    /// What was found, and where.
    pub message: String,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Checked and fine.
    Ok,
    /// Worth fixing before publishing; it installs anyway.
    Warning,
    /// It would not install (or not work) as it is.
    Error,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`: a width given in the format applies (`{:<8}`).
        f.pad(match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// Checks the plugin crate in `dir`.
pub fn check(dir: &Path, settings: &Settings, reporter: Arc<dyn Reporter>) -> Result<CheckReport> {
    let krate = PluginCrate::read(dir).map_err(|err| {
        Hinted::new(
            format!("`{}` is not a plugin crate: {err:#}", dir.display()),
            "run `scopectl check` in a plugin's directory, or name it: `scopectl check DIR`",
        )
    })?;
    let mut findings = Vec::new();
    let mut say = |level, message: String| findings.push(Finding { level, message });
    let sdk = Version::parse(scope_plugin_api::API_VERSION).expect("the API version is semver");
    let api_fits = match VersionReq::parse(&krate.api_requirement) {
        Ok(req) if req.matches(&sdk) => {
            say(
                Level::Ok,
                format!(
                    "its requirement scope-plugin-api {} accepts this scopectl's SDK ({sdk})",
                    krate.api_requirement
                ),
            );
            true
        }
        Ok(_) => {
            say(
                Level::Error,
                format!(
                    "its requirement scope-plugin-api {} (Cargo.toml) does not accept this scopectl's SDK ({sdk}): no host built by this scopectl can load it; require `scope-plugin-api = \"{}.{}\"`",
                    krate.api_requirement, sdk.major, sdk.minor
                ),
            );
            false
        }
        Err(err) => {
            say(
                Level::Error,
                format!(
                    "its requirement on scope-plugin-api, `{}`, is not a version requirement: {err}",
                    krate.api_requirement
                ),
            );
            false
        }
    };
    for (key, why) in missing_metadata(dir)? {
        say(Level::Warning, format!("Cargo.toml has no `{key}`: {why}"));
    }
    findings.extend(super::plugin_package::findings(dir, settings)?);
    if api_fits {
        for finding in scratch_host(&krate, dir, settings, reporter.as_ref())? {
            findings.push(finding);
        }
    }
    Ok(CheckReport {
        version: DOCUMENT_VERSION,
        plugin: krate.name,
        plugin_version: krate.version,
        findings,
    })
}

/// The package keys a registry and its users want, when missing.
fn missing_metadata(dir: &Path) -> Result<Vec<(&'static str, &'static str)>> {
    let text = fs_err::read_to_string(dir.join("Cargo.toml"))?;
    let doc: toml_edit::DocumentMut = text.parse()?;
    let package = doc.get("package").and_then(toml_edit::Item::as_table_like);
    let has = |key: &str| package.is_some_and(|p| p.contains_key(key));
    Ok([
        ("description", "registries and `scopectl list` show it"),
        (
            "license",
            "a registry refuses a crate without one (or `license-file`)",
        ),
        (
            "repository",
            "users find the source and report problems there",
        ),
    ]
    .into_iter()
    .filter(|(key, _)| {
        let present = has(key) || (*key == "license" && has("license-file"));
        !present
    })
    .collect())
}

/// Builds a host with the plugin alone and runs its self-check.
fn scratch_host(
    krate: &PluginCrate,
    dir: &Path,
    settings: &Settings,
    reporter: &dyn Reporter,
) -> Result<Vec<Finding>> {
    // Disposable, beside the plugin's own build output.
    let build_dir = dir.join("target").join("scope-check");
    let builder = HostBuilder::new(&build_dir, &settings.build);
    reporter.status(
        "Building",
        &format!("a scratch host with {} v{}", krate.name, krate.version),
    );
    let built = match builder.build(std::slice::from_ref(krate), &Graph::Fresh, reporter) {
        Ok(built) => built,
        Err(err) => {
            return Ok(vec![Finding {
                level: Level::Error,
                message: format!("a host with it does not build: {err:#}"),
            }])
        }
    };
    let (ok, report) = super::probe::self_check(&built.binary)?;
    let mut findings = Vec::new();
    for plugin in &report.plugins {
        for error in &plugin.errors {
            findings.push(Finding {
                level: Level::Error,
                message: format!("registration: {error}"),
            });
        }
        if plugin.errors.is_empty() {
            let pipelines = if plugin.pipelines.is_empty() {
                "no pipeline".to_owned()
            } else {
                plugin.pipelines.join(", ")
            };
            findings.push(Finding {
                level: if plugin.pipelines.is_empty() {
                    Level::Warning
                } else {
                    Level::Ok
                },
                message: format!(
                    "a host built with it passes its self-check and registers {pipelines}"
                ),
            });
        }
    }
    if !ok && findings.iter().all(|f| f.level != Level::Error) {
        findings.push(Finding {
            level: Level::Error,
            message: "the scratch host failed its self-check".to_owned(),
        });
    }
    Ok(findings)
}
