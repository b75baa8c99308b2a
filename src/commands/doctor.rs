//! `scopectl doctor [--repair]`: the toolchain, the home's consistency,
//! leftovers of interrupted commands and the download cache.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::change::read_lock;
use crate::home::{Home, HOST_BINARY};
use crate::printer::Printer;
use crate::transaction::recover;

enum Repair {
    /// Finish or undo an interrupted change and remove its leftovers.
    Leftovers,
    /// Point `bin/scope-host` at the active generation again.
    HostLink,
    /// Delete a cached download that fails verification.
    Download(std::path::PathBuf),
}

struct Finding {
    problem: String,
    repair: Option<Repair>,
}

pub fn doctor(home: &Home, repair: bool, printer: &Printer) -> Result<ExitCode> {
    let mut findings = Vec::new();
    for (tool, program) in [
        (
            "cargo",
            std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        ),
        ("rustc", "rustc".into()),
    ] {
        match Command::new(&program).arg("--version").output() {
            Ok(out) if out.status.success() => {
                println!("ok       {}", String::from_utf8_lossy(&out.stdout).trim())
            }
            _ => findings.push(Finding {
                problem: format!(
                    "{tool} was not found: hosts cannot be built (install Rust with rustup)"
                ),
                repair: None,
            }),
        }
    }
    let leftovers = leftovers(home);
    if !leftovers.is_empty() {
        findings.push(Finding {
            problem: format!(
                "leftovers of an interrupted command: {}",
                leftovers.join(", ")
            ),
            repair: Some(Repair::Leftovers),
        });
    }
    match home.current() {
        None => println!(
            "ok       no generation is active yet in {}",
            home.root().display()
        ),
        Some(n) => check_generation(home, n, &mut findings),
    }
    check_downloads(&home.root().join("cache").join("registry"), &mut findings);

    let mut remaining = 0;
    // Repairs change the home: under its lock (taken directly, so that the
    // leftovers are repaired here, where they are reported).
    let _lock = if repair && findings.iter().any(|f| f.repair.is_some()) {
        Some(home.lock(crate::home::lock_timeout()?, || {
            printer.blocking(&format!(
                "Blocking: waiting for lock on {}",
                home.root().display()
            ));
        })?)
    } else {
        None
    };
    for finding in findings {
        match (repair, finding.repair) {
            (true, Some(how)) => {
                let done = match how {
                    Repair::Leftovers => {
                        recover(home)?.unwrap_or_else(|| "nothing left to clean".into())
                    }
                    Repair::HostLink => {
                        let n = home.current().expect("checked above");
                        fs_err::remove_file(home.host_path()).ok();
                        home.activate(n)?;
                        format!("pointed bin/{HOST_BINARY} at generation {n}")
                    }
                    Repair::Download(path) => {
                        fs_err::remove_file(&path)?;
                        format!("deleted {}", path.display())
                    }
                };
                println!("repaired {}: {done}", finding.problem);
            }
            (_, how) => {
                remaining += 1;
                let fix = if how.is_some() {
                    " (`scopectl doctor --repair` fixes it)"
                } else {
                    ""
                };
                println!("problem  {}{fix}", finding.problem);
            }
        }
    }
    Ok(if remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn leftovers(home: &Home) -> Vec<String> {
    let mut found = Vec::new();
    if home.root().join(".transaction").exists() {
        found.push(".transaction".to_owned());
    }
    for dir in [home.generations_dir(), home.root().to_owned()] {
        for entry in fs_err::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".staging-") || name.starts_with(".tmp-") {
                found.push(name);
            }
        }
    }
    found
}

fn check_generation(home: &Home, n: u64, findings: &mut Vec<Finding>) {
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
        findings.push(Finding {
            problem: format!("the active generation {n} is incomplete: {} missing; `scopectl rollback` to an earlier one", missing.join(", ")),
            repair: None,
        });
        return;
    }
    println!("ok       generation {n} is active and complete");
    let linked = fs_err::canonicalize(home.host_path()).ok();
    if linked != fs_err::canonicalize(dir.join(HOST_BINARY)).ok() {
        findings.push(Finding {
            problem: format!("bin/{HOST_BINARY} does not lead to generation {n}'s host"),
            repair: Some(Repair::HostLink),
        });
        return;
    }
    // The host's plugins are the ones its lock pins.
    let pins = read_lock(&dir.join("resolved.lock"))
        .ok()
        .flatten()
        .map(|l| l.plugins)
        .unwrap_or_default();
    let report = Command::new(dir.join(HOST_BINARY))
        .args(["self-check", "--json"])
        .output();
    let json: Option<serde_json::Value> = report
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok());
    let Some(json) = json else {
        findings.push(Finding {
            problem: format!(
                "generation {n}'s host does not run; `scopectl build` makes a new one"
            ),
            repair: None,
        });
        return;
    };
    let mut built: Vec<(String, String)> = json["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_owned(),
                p["version"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    built.sort();
    let mut locked: Vec<(String, String)> = pins
        .iter()
        .map(|p| (p.name.clone(), p.version.to_string()))
        .collect();
    locked.sort();
    if built == locked {
        println!("ok       generation {n}'s host has exactly the plugins its lock pins");
    } else {
        findings.push(Finding {
            problem: format!("generation {n}'s host does not match its resolved.lock; `scopectl build` rebuilds it"),
            repair: None,
        });
    }
    for file in ["plugins.toml", "resolved.lock"] {
        if fs_err::read(home.root().join(file)).ok() != fs_err::read(dir.join(file)).ok() {
            println!("note     {file} has changes the active generation does not have yet; `scopectl sync` applies them");
        }
    }
}

fn check_downloads(registries: &Path, findings: &mut Vec<Finding>) {
    let mut checked = 0;
    for registry in fs_err::read_dir(registries).into_iter().flatten().flatten() {
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
                .map(|b| crate::fsx::hex(&Sha256::digest(b)))
                .unwrap_or_default();
            if actual != expected {
                findings.push(Finding {
                    problem: format!("the cached download {} fails verification", path.display()),
                    repair: Some(Repair::Download(path)),
                });
            }
        }
    }
    if checked > 0 {
        println!("ok       {checked} cached download(s) checked");
    }
}
