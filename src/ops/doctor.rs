//! `doctor`: the toolchain, the home's consistency, leftovers of
//! interrupted commands and the download cache, as a list of [`Check`]s;
//! [`repair`] fixes what is safe to fix, through the home's transaction;
//! [`doctor`] does both and answers with the document the CLI prints.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::probe::self_check;
use crate::documents::{DoctorCheck, DoctorDocument, DOCUMENT_VERSION};
use crate::home::{leftovers, CacheBucket, Home, Transaction, HOST_BINARY};
use crate::settings::Settings;

/// Looks at everything and, with `fix`, repairs what can be repaired.
pub fn doctor(home: &Home, settings: &Settings, fix: bool) -> Result<DoctorDocument> {
    let checks = diagnose(home, settings);
    let repairable = checks
        .iter()
        .any(|c| matches!(c, Check::Problem(_, Some(_))));
    // Repairs change the home: through its transaction, whose beginning
    // also finishes or undoes an interrupted change.
    let transaction = if fix && repairable {
        Some(Transaction::begin(
            home,
            settings.lock_timeout,
            &crate::reporter::Silent,
        )?)
    } else {
        None
    };
    let mut rows = Vec::new();
    for check in checks {
        let (status, message, repairable) = match (check, &transaction) {
            (Check::Ok(what), _) => ("ok", what, false),
            (Check::Note(what), _) => ("note", what, false),
            (Check::Problem(what, Some(how)), Some(transaction)) => {
                let done = repair(transaction, &how)?;
                ("repaired", format!("{what}: {done}"), false)
            }
            (Check::Problem(what, how), _) => ("problem", what, how.is_some()),
        };
        rows.push(DoctorCheck {
            status,
            message,
            repairable,
        });
    }
    Ok(DoctorDocument {
        version: DOCUMENT_VERSION,
        checks: rows,
    })
}

/// One thing doctor looked at.
#[derive(Debug)]
pub enum Check {
    /// It is fine.
    Ok(String),
    /// Worth knowing, not a problem.
    Note(String),
    /// A problem, and how it can be fixed when it can.
    Problem(String, Option<Repair>),
}

/// What `doctor --repair` can do.
#[derive(Debug)]
pub enum Repair {
    /// Finish or undo an interrupted change and remove its leftovers
    /// (beginning a transaction does it).
    Leftovers,
    /// Point `current` and `bin/scope-host` at the active generation again.
    HostLink(u64),
    /// Make the newest complete generation active (`current` is missing).
    Activate(u64),
    /// Delete a cached download that fails verification.
    Download(PathBuf),
}

/// Looks at everything; changes nothing.
pub fn diagnose(home: &Home, settings: &Settings) -> Vec<Check> {
    let mut checks = Vec::new();
    for (tool, program) in [
        ("cargo", settings.build.cargo.clone()),
        ("rustc", "rustc".into()),
    ] {
        checks.push(match Command::new(&program).arg("--version").output() {
            Ok(out) if out.status.success() => {
                Check::Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
            }
            _ => Check::Problem(
                format!("{tool} was not found: hosts cannot be built (install Rust with rustup)"),
                None,
            ),
        });
    }
    let mode = match settings.build.sandbox_given {
        true => settings.build.sandbox,
        false => crate::policy::Policy::find(home.root(), settings.policy.as_deref())
            .ok()
            .flatten()
            .map_or(settings.build.sandbox, |p| p.sandbox.value),
    };
    checks.push(
        match crate::sandbox::report(mode, settings.build.sandbox_unsupported) {
            Ok(said) if said.contains("enforced (") || said.contains(": off") => Check::Ok(said),
            Ok(said) => Check::Note(said),
            Err(said) => Check::Problem(said, None),
        },
    );
    let builder = crate::host_build::HostBuilder::new(&home.build_dir(), &settings.build);
    let whose = match (
        &settings.build.target_dir,
        &settings.build.shared_target_dir,
    ) {
        (Some(_), _) => "CARGO_TARGET_DIR",
        (None, Some(_)) => "shared by every home of this user",
        (None, None) => "this home's own",
    };
    checks.push(Check::Note(format!(
        "hosts are compiled in {} ({whose})",
        builder.target_dir.display()
    )));
    let leftovers = leftovers(home);
    if !leftovers.is_empty() {
        checks.push(Check::Problem(
            format!(
                "leftovers of an interrupted command: {}",
                leftovers.join(", ")
            ),
            Some(Repair::Leftovers),
        ));
    }
    if let Err(err) = home.plugins_toml() {
        checks.push(Check::Problem(
            format!("plugins.toml cannot be read, so `scopectl sync` would fail: {err:#}"),
            None,
        ));
    }
    match (
        home.current(),
        home.generations().ok().and_then(|g| g.last().copied()),
    ) {
        (None, None) => checks.push(Check::Ok(format!(
            "no generation is active yet in {}",
            home.root().display()
        ))),
        (None, Some(newest)) => checks.push(Check::Problem(
            format!(
                "no generation is active (`current` is missing), but generation {newest} is there"
            ),
            Some(Repair::Activate(newest)),
        )),
        (Some(n), _) => check_generation(home, n, &mut checks),
    }
    check_downloads(home, &mut checks);
    checks
}

/// Applies one repair; says what it did.
pub fn repair(transaction: &Transaction<'_>, how: &Repair) -> Result<String> {
    Ok(match how {
        // Beginning the transaction already finished or undid the change.
        Repair::Leftovers => transaction
            .recovered()
            .unwrap_or("nothing left to clean")
            .to_owned(),
        Repair::HostLink(n) => {
            transaction.relink(*n)?;
            format!("pointed bin/{HOST_BINARY} at generation {n}")
        }
        Repair::Activate(n) => {
            transaction.relink(*n)?;
            format!("made generation {n} active")
        }
        Repair::Download(path) => {
            fs_err::remove_file(path)?;
            format!("deleted {}", path.display())
        }
    })
}

fn check_generation(home: &Home, n: u64, checks: &mut Vec<Check>) {
    let dir = home.generation_dir(n);
    let missing: Vec<&str> = [
        HOST_BINARY,
        "plugins.toml",
        "resolved.lock",
        "generation.toml",
    ]
    .into_iter()
    .filter(|f| !dir.join(f).is_file())
    .collect();
    if !missing.is_empty() {
        checks.push(Check::Problem(format!("the active generation {n} is incomplete: {} missing; `scopectl rollback` to an earlier one", missing.join(", ")), None));
        return;
    }
    checks.push(Check::Ok(format!("generation {n} is active and complete")));
    let linked = fs_err::canonicalize(home.host_path()).ok();
    if linked != fs_err::canonicalize(dir.join(HOST_BINARY)).ok() {
        checks.push(Check::Problem(
            format!("bin/{HOST_BINARY} does not lead to generation {n}'s host"),
            Some(Repair::HostLink(n)),
        ));
        return;
    }
    // The host's plugins are the ones its lock pins.
    let Ok((_, report)) = self_check(&dir.join(HOST_BINARY)) else {
        checks.push(Check::Problem(
            format!("generation {n}'s host does not run; `scopectl build` makes a new one"),
            None,
        ));
        return;
    };
    let mut built: Vec<(String, String)> = report
        .plugins
        .iter()
        .map(|p| (scope_name::normalize(&p.name), p.version.clone()))
        .collect();
    built.sort();
    let mut locked: Vec<(String, String)> = home
        .generation_lock(n)
        .ok()
        .flatten()
        .map(|l| l.plugins)
        .unwrap_or_default()
        .iter()
        .map(|p| (p.name.normalized().to_owned(), p.version.to_string()))
        .collect();
    locked.sort();
    checks.push(if built == locked {
        Check::Ok(format!("generation {n}'s host has exactly the plugins its lock pins"))
    } else {
        Check::Problem(format!("generation {n}'s host does not match its resolved.lock; `scopectl build` rebuilds it"), None)
    });
    for pin in home
        .generation_lock(n)
        .ok()
        .flatten()
        .map(|l| l.plugins)
        .unwrap_or_default()
    {
        if let scope_lockfile::PinSource::Path { path } = &pin.source {
            let path = home.root().join(path);
            if !path.join("Cargo.toml").is_file() {
                checks.push(Check::Problem(
                    format!(
                        "plugin `{}` was built from {}, which is gone: `scopectl install NEW-DIR` where it is now, or `scopectl uninstall {}`",
                        pin.name,
                        path.display(),
                        pin.name
                    ),
                    None,
                ));
            }
        }
    }
    for name in super::inspect::edited_since(home, n) {
        checks.push(Check::Note(format!(
            "plugin `{name}` changed since generation {n} was built; `scopectl sync` (or `reload {name}`) rebuilds it"
        )));
    }
    for (file, path) in [
        ("plugins.toml", home.plugins_toml_path()),
        ("resolved.lock", home.resolved_lock_path()),
    ] {
        let readable = file != "plugins.toml" || home.plugins_toml().is_ok();
        if readable && fs_err::read(path).ok() != fs_err::read(dir.join(file)).ok() {
            checks.push(Check::Note(format!("{file} has changes the active generation does not have yet; `scopectl sync` applies them")));
        }
    }
}

fn check_downloads(home: &Home, checks: &mut Vec<Check>) {
    let mut checked = 0;
    for registry in fs_err::read_dir(home.cache(CacheBucket::Registry))
        .into_iter()
        .flatten()
        .flatten()
    {
        for entry in fs_err::read_dir(registry.path().join("downloads"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            let Some(expected) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".crate"))
            else {
                continue;
            };
            checked += 1;
            let actual = fs_err::read(&path)
                .map(|b| scope_registry_client::registry::hex(&Sha256::digest(b)))
                .unwrap_or_default();
            if actual != expected {
                checks.push(Check::Problem(
                    format!("the cached download {} fails verification", path.display()),
                    Some(Repair::Download(path)),
                ));
            }
        }
    }
    if checked > 0 {
        checks.push(Check::Ok(format!("{checked} cached download(s) checked")));
    }
}
