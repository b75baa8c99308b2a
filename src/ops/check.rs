//! `update --check`: which plugins have updates, and why a newer version is
//! out of reach when it is. Registry plugins are compared against the index
//! (fetched concurrently), git plugins' pinned commits against the remote's
//! branch or tag now (queried concurrently); local plugins are skipped
//! (`reload` rebuilds them). It never changes the home.

use std::sync::Arc;

use anyhow::Result;
use scope_lockfile::{GitReference, Pin, PinSource, PluginSpec};
use scope_name::PluginName;
use scope_registry_client::git::{remote_tag, remote_tip, GitCache, GitUrl};

use super::plan::read_only;
use std::collections::{BTreeMap, BTreeSet};

use crate::documents::{
    ArtifactUpdate, CrateUpdate, PluginUpdate, UpdatesDocument, DOCUMENT_VERSION,
};
use crate::home::{CacheBucket, Home};
use crate::host_build::{Graph, HostBuilder};
use crate::plugin_crate::PluginCrate;
use crate::reporter::Reporter;
use crate::settings::Settings;
use scope_lockfile::ArtifactPin;
use scope_registry_client::http::HttpSettings;

/// The whole update check, as `update --check` and `GET /api/v1/updates`
/// give it: the installed plugins (those in `names`, or all) and, when all
/// are asked about, the host's third-party crates, as `update` with no
/// names moves them. A check that fails is in the document (a plugin's
/// `error`, `crates_error`); only a home that cannot be read is an error.
pub fn updates(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
    names: &[PluginName],
) -> Result<UpdatesDocument> {
    let mut document = check(home, settings, reporter.clone(), names)?;
    if names.is_empty() {
        match crate_updates(home, settings, reporter) {
            Ok((crates, artifacts)) => {
                document.crates = crates;
                document.artifacts = artifacts;
            }
            Err(err) => document.crates_error = Some(format!("{err:#}")),
        }
    }
    Ok(document)
}

/// How the artifacts `plugins` (an update's choice) declare differ from
/// those `locked` pins, by plugin and name.
fn artifact_updates(locked: &[ArtifactPin], plugins: &[PluginCrate]) -> Vec<ArtifactUpdate> {
    let now: BTreeMap<(&str, &str), &str> = locked
        .iter()
        .map(|a| ((a.plugin.as_str(), a.name.as_str()), a.sha256.as_str()))
        .collect();
    let then: BTreeMap<(&str, &str), &str> = plugins
        .iter()
        .flat_map(|p| {
            p.artifacts
                .iter()
                .map(move |a| ((p.name.as_str(), a.name.as_str()), a.sha256.as_str()))
        })
        .collect();
    now.keys()
        .chain(then.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|key| now.get(*key) != then.get(*key))
        .map(|key| ArtifactUpdate {
            plugin: key.0.to_owned(),
            name: key.1.to_owned(),
            installed: now.get(key).map(|s| (*s).to_owned()),
            updated: then.get(key).map(|s| (*s).to_owned()),
        })
        .collect()
}

impl UpdatesDocument {
    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.crates_error.is_some() || self.plugins.iter().any(|r| r.error.is_some())
    }

    /// Whether anything can be updated.
    pub fn has_updates(&self) -> bool {
        !self.crates.is_empty()
            || !self.artifacts.is_empty()
            || self
                .plugins
                .iter()
                .any(|r| r.update_available == Some(true))
    }
}

/// Checks the installed plugins (those in `names`, or all) for updates.
fn check(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
    names: &[PluginName],
) -> Result<UpdatesDocument> {
    let pins: Vec<Pin> = home.lock_file()?.map(|l| l.plugins).unwrap_or_default();
    let desired = home.plugins_toml()?;
    let pins: Vec<&Pin> = pins
        .iter()
        .filter(|p| names.is_empty() || names.contains(&p.name))
        .collect();

    // Git remotes, all at once; offline, the cache's copy of them.
    let cache = settings
        .offline
        .then(|| GitCache::new(CacheBucket::git(&home.cache_dir()), &settings.http));
    let cache = cache.as_ref();
    let git_rows: Vec<PluginUpdate> = std::thread::scope(|scope| {
        let handles: Vec<_> = pins
            .iter()
            .filter_map(
                |pin| match (&pin.source, desired.plugins().get(&pin.name)) {
                    (
                        PinSource::Git { url, commit, .. },
                        Some(PluginSpec::Git { reference, .. }),
                    ) => Some(scope.spawn(move || {
                        git_row(pin, url, commit, reference, cache, &settings.http)
                    })),
                    _ => None,
                },
            )
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("git checks do not panic"))
            .collect()
    });

    let registry_rows = registry_rows(home, settings, reporter, &pins);
    let mut plugins: Vec<PluginUpdate> = pins
        .iter()
        .filter(|p| matches!(p.source, PinSource::Path { .. }))
        .map(|p| PluginUpdate {
            reason: Some("a local plugin: `scopectl reload` rebuilds it from its directory".into()),
            ..row_for(p)
        })
        .chain(git_rows)
        .chain(registry_rows)
        .collect();
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(UpdatesDocument {
        version: DOCUMENT_VERSION,
        plugins,
        crates: Vec::new(),
        crates_error: None,
        artifacts: Vec::new(),
    })
}

/// The host's third-party crates that `scopectl update` would move: cargo
/// is asked, in a scratch copy of the host crate made from the lock; and
/// the artifacts the plugins it would choose declare differently.
fn crate_updates(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
) -> Result<(Vec<CrateUpdate>, Vec<ArtifactUpdate>)> {
    let Some(locked) = home.lock_file()? else {
        return Ok((Vec::new(), Vec::new()));
    };
    if locked.crates.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let reporter_for_fetches = reporter.clone();
    let plugins = read_only(home, settings, reporter, |planner| {
        let gathered = planner.gather()?;
        let pins = planner.resolve(&gathered, reporter_for_fetches.as_ref())?;
        planner.materialize(&gathered, &pins)
    })?;
    // A scratch crate in the home's disposable build directory, where cargo
    // reads the same configuration as for a real build.
    fs_err::create_dir_all(home.build_dir())?;
    let scratch = tempfile::Builder::new()
        .prefix(".check-")
        .tempdir_in(home.build_dir())?;
    let mut build = settings.build.clone();
    // Nothing is compiled; a scratch target keeps the real one untouched.
    build.target_dir = Some(scratch.path().join("target"));
    let moves = HostBuilder::new(scratch.path(), &build)
        .crate_updates(&plugins, &Graph::Keep(&locked.crates))?;
    let crates = moves
        .into_iter()
        .map(|(name, installed, newest_compatible)| CrateUpdate {
            name,
            installed,
            newest_compatible,
        })
        .collect();
    Ok((crates, artifact_updates(&locked.artifacts, &plugins)))
}

/// Registry plugins: the resolver, over index entries fetched concurrently.
fn registry_rows(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
    pins: &[&Pin],
) -> Vec<PluginUpdate> {
    let registry: Vec<&Pin> = pins
        .iter()
        .copied()
        .filter(|p| matches!(p.source, PinSource::Registry { .. }))
        .collect();
    if registry.is_empty() {
        return Vec::new();
    }
    let problem = read_only(home, settings, reporter, |planner| {
        planner.problem(&planner.gather()?)
    });
    registry
        .into_iter()
        .map(|pin| match &problem {
            Err(err) => failed(pin, format!("{err:#}")),
            Ok((index, request)) => match scope_resolver::newer(index, request, &pin.name) {
                Err(err) => failed(pin, err.to_string()),
                Ok(found) => PluginUpdate {
                    newest_compatible: Some(found.newest_compatible.to_string()),
                    newest: found.newest.as_ref().map(ToString::to_string),
                    update_available: Some(found.update_available()),
                    reason: found.blocked_by.as_ref().map(ToString::to_string),
                    ..row_for(pin)
                },
            },
        })
        .collect()
}

/// The row of `pin` before anything is checked.
fn row_for(pin: &Pin) -> PluginUpdate {
    let (kind, source_id) = crate::documents::source_of(&pin.source);
    let commit = match &pin.source {
        PinSource::Git { commit, .. } => Some(commit.clone()),
        _ => None,
    };
    PluginUpdate {
        name: pin.name.clone(),
        source: kind,
        source_id,
        // For git plugins `installed` has always been the commit.
        installed: commit.clone().unwrap_or_else(|| pin.version.to_string()),
        version: pin.version.to_string(),
        commit,
        newest_compatible: None,
        newest: None,
        update_available: None,
        reason: None,
        error: None,
    }
}

fn failed(pin: &Pin, error: String) -> PluginUpdate {
    PluginUpdate {
        error: Some(error),
        ..row_for(pin)
    }
}

/// A git plugin's pinned commit against what its branch or tag names now
/// (with `cache`: as the cache last saw it, without the network).
fn git_row(
    pin: &Pin,
    url: &str,
    commit: &str,
    reference: &GitReference,
    cache: Option<&GitCache>,
    network: &HttpSettings,
) -> PluginUpdate {
    let tip = GitUrl::parse(url)
        .map_err(anyhow::Error::from)
        .and_then(|url| match (reference, cache) {
            (GitReference::Rev(_), _) => Ok(None),
            (_, Some(cache)) => Ok(Some(cache.locate(&url, reference, true)?)),
            (GitReference::Tag(tag), None) => Ok(Some(remote_tag(&url, tag, network)?)),
            (GitReference::Branch(branch), None) => {
                Ok(Some(remote_tip(&url, Some(branch), network)?))
            }
            (GitReference::DefaultBranch, None) => Ok(Some(remote_tip(&url, None, network)?)),
        });
    let row = |tip: String, available: bool, reason: Option<String>| PluginUpdate {
        newest_compatible: Some(tip.clone()),
        newest: Some(tip),
        update_available: Some(available),
        reason,
        ..row_for(pin)
    };
    match tip {
        Err(err) => failed(pin, format!("{err:#}")),
        Ok(None) => row(
            commit.to_owned(),
            false,
            Some("pinned to a revision: it never moves".into()),
        ),
        Ok(Some(tip)) => {
            let tip = tip.to_string();
            let moved = tip != commit;
            let reason = match (moved, reference, cache) {
                (_, _, Some(_)) => Some(
                    "offline: compared with the remote as the cache last fetched it".to_owned(),
                ),
                (true, GitReference::Tag(tag), None) => Some(format!("tag `{tag}` moved upstream")),
                _ => None,
            };
            row(tip, moved, reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::Declared;

    fn plugin(name: &str, artifacts: &[(&str, &str)]) -> PluginCrate {
        PluginCrate {
            name: name.into(),
            version: "1.0.0".into(),
            dir: std::path::PathBuf::from("/src").join(name),
            register: "register_pipelines".into(),
            api_requirement: "^0.1".into(),
            conflicts: Vec::new(),
            capabilities: Vec::new(),
            dependencies: Vec::new(),
            registry_dependencies: Vec::new(),
            artifacts: artifacts
                .iter()
                .map(|(name, sha)| Declared {
                    name: (*name).into(),
                    url: "https://example.org/a".into(),
                    mirrors: Vec::new(),
                    sha256: (*sha).into(),
                    size: 1,
                    unpack: false,
                })
                .collect(),
        }
    }

    fn pin(plugin: &str, name: &str, sha: &str) -> ArtifactPin {
        ArtifactPin {
            plugin: plugin.into(),
            name: name.into(),
            sha256: sha.into(),
            size: 1,
            url: "https://example.org/a".into(),
            unpack: false,
        }
    }

    #[test]
    fn an_update_that_changes_adds_or_drops_an_artifact_says_so() {
        let locked = [
            pin("depth", "weights", "aa"),
            pin("depth", "luts", "bb"),
            pin("grain", "noise", "cc"),
        ];
        let chosen = [
            plugin(
                "depth",
                &[("weights", "dd"), ("luts", "bb"), ("calib", "ee")],
            ),
            plugin("grain", &[]),
        ];
        let changes = artifact_updates(&locked, &chosen);
        let said: Vec<(&str, &str, Option<&str>, Option<&str>)> = changes
            .iter()
            .map(|c| {
                (
                    c.plugin.as_str(),
                    c.name.as_str(),
                    c.installed.as_deref(),
                    c.updated.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            said,
            [
                ("depth", "calib", None, Some("ee")),
                ("depth", "weights", Some("aa"), Some("dd")),
                ("grain", "noise", Some("cc"), None),
            ]
        );
        assert!(artifact_updates(&locked[..2], &chosen[..1]).len() == 2);
    }
}
