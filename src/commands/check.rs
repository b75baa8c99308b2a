//! `scopectl update --check [--json]`: which plugins have updates, and why
//! a newer version is out of reach when it is. Registry plugins are compared
//! against the index (fetched concurrently), git plugins' pinned commits
//! against the remote's branch or tag now (queried concurrently); local
//! plugins are skipped (`reload` rebuilds them). It never changes the home.

use std::process::ExitCode;

use anyhow::Result;
use scope_lockfile::{GitReference, Pin, PinSource, PluginSpec};
use scope_registry_client::git::{remote_tag, remote_tip, GitUrl};
use serde_json::{json, Value};

use crate::change::{read_lock, read_plugins_toml};
use crate::cli::GlobalArgs;
use crate::home::Home;
use crate::printer::Printer;

/// Exit status when updates are available.
const UPDATES: u8 = 10;

struct Row {
    name: String,
    source: &'static str,
    installed: String,
    newest_compatible: Option<String>,
    newest: Option<String>,
    available: Option<bool>,
    reason: Option<String>,
    error: Option<String>,
}

pub fn check(
    home: &Home,
    global: &GlobalArgs,
    names: &[String],
    json_out: bool,
    printer: &Printer,
) -> Result<ExitCode> {
    let locked = read_lock(&home.resolved_lock())?;
    let desired = read_plugins_toml(&home.plugins_toml())?;
    let pins: Vec<Pin> = locked.iter().flat_map(|l| l.plugins.clone()).collect();

    // Git remotes, all at once.
    let git_rows: Vec<Row> = std::thread::scope(|scope| {
        let handles: Vec<_> = pins
            .iter()
            .filter_map(|pin| {
                match (
                    &pin.source,
                    desired.plugins().get(&pin.name.replace('_', "-")),
                ) {
                    (
                        PinSource::Git { url, commit, .. },
                        Some(PluginSpec::Git { reference, .. }),
                    ) => Some(scope.spawn(move || git_row(pin, url, commit, reference))),
                    _ => None,
                }
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("git checks do not panic"))
            .collect()
    });

    // Registry plugins: the resolver, over index entries fetched concurrently.
    let has_registry = pins
        .iter()
        .any(|p| matches!(p.source, PinSource::Registry { .. }));
    let mut registry_rows = Vec::new();
    if has_registry {
        let problem = super::change::read_only_change(home, global, printer, |change, _, _| {
            change.problem_now()
        });
        for pin in pins
            .iter()
            .filter(|p| matches!(p.source, PinSource::Registry { .. }))
        {
            registry_rows.push(match &problem {
                Err(err) => failed(pin, "registry", format!("{err:#}")),
                Ok((index, request)) => match scope_resolver::newer(index, request, &pin.name) {
                    Err(err) => failed(pin, "registry", err.to_string()),
                    Ok(found) => Row {
                        name: pin.name.clone(),
                        source: "registry",
                        installed: pin.version.to_string(),
                        newest_compatible: Some(found.newest_compatible.to_string()),
                        newest: found.newest.as_ref().map(ToString::to_string),
                        available: Some(found.update_available()),
                        reason: found.blocked_by.as_ref().map(ToString::to_string),
                        error: None,
                    },
                },
            });
        }
    }

    let mut rows: Vec<Row> = pins
        .iter()
        .filter(|p| matches!(p.source, PinSource::Path { .. }))
        .map(|p| Row {
            name: p.name.clone(),
            source: "path",
            installed: p.version.to_string(),
            newest_compatible: None,
            newest: None,
            available: None,
            reason: Some("a local plugin: `scopectl reload` rebuilds it from its directory".into()),
            error: None,
        })
        .chain(git_rows)
        .chain(registry_rows)
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let wanted: Vec<String> = names.iter().map(|n| n.replace('_', "-")).collect();
    rows.retain(|r| wanted.is_empty() || wanted.contains(&r.name.replace('_', "-")));

    let failed_any = rows.iter().any(|r| r.error.is_some());
    let updates = rows.iter().any(|r| r.available == Some(true));
    if json_out {
        let plugins: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name, "source": r.source, "installed": r.installed,
                    "newest_compatible": r.newest_compatible, "newest": r.newest,
                    "update_available": r.available, "reason": r.reason, "error": r.error,
                })
            })
            .collect();
        println!("{}", json!({ "version": 1, "plugins": plugins }));
    } else {
        for r in &rows {
            let state = match (r.available, &r.error) {
                (_, Some(e)) => format!("check failed: {e}"),
                (Some(true), _) => format!(
                    "update available: {}",
                    r.newest_compatible.as_deref().unwrap_or("?")
                ),
                (Some(false), _) => "up to date".into(),
                (None, _) => "skipped".into(),
            };
            println!("{} {}  {state}", r.name, r.installed);
            if let Some(reason) = &r.reason {
                println!("    {reason}");
            }
        }
    }
    Ok(if failed_any {
        ExitCode::FAILURE
    } else if updates {
        ExitCode::from(UPDATES)
    } else {
        ExitCode::SUCCESS
    })
}

fn failed(pin: &Pin, source: &'static str, error: String) -> Row {
    Row {
        name: pin.name.clone(),
        source,
        installed: pin.version.to_string(),
        newest_compatible: None,
        newest: None,
        available: None,
        reason: None,
        error: Some(error),
    }
}

fn git_row(pin: &Pin, url: &str, commit: &str, reference: &GitReference) -> Row {
    let tip = GitUrl::parse(url)
        .map_err(anyhow::Error::from)
        .and_then(|url| match reference {
            GitReference::Rev(_) => Ok(None),
            GitReference::Tag(tag) => Ok(Some(remote_tag(&url, tag)?)),
            GitReference::Branch(branch) => Ok(Some(remote_tip(&url, Some(branch))?)),
            GitReference::DefaultBranch => Ok(Some(remote_tip(&url, None)?)),
        });
    match tip {
        Err(err) => failed(pin, "git", format!("{err:#}")),
        Ok(None) => Row {
            name: pin.name.clone(),
            source: "git",
            installed: commit.to_owned(),
            newest_compatible: Some(commit.to_owned()),
            newest: Some(commit.to_owned()),
            available: Some(false),
            reason: Some("pinned to a revision: it never moves".into()),
            error: None,
        },
        Ok(Some(tip)) => {
            let tip = tip.to_string();
            let moved = tip != commit;
            let reason = match (moved, reference) {
                (true, GitReference::Tag(tag)) => Some(format!("tag `{tag}` moved upstream")),
                _ => None,
            };
            Row {
                name: pin.name.clone(),
                source: "git",
                installed: commit.to_owned(),
                newest_compatible: Some(tip.clone()),
                newest: Some(tip),
                available: Some(moved),
                reason,
                error: None,
            }
        }
    }
}
