//! The crash campaign: real mutating commands killed with SIGKILL (the
//! whole process group: scopectl, cargo, rustc, git) at random instants
//! over their whole duration. After each kill the next command recovers,
//! and the home is exactly as before or exactly the complete new
//! generation; `doctor` is clean.
//!
//! The phase a kill landed in is read at the instant of the kill: a tool
//! running in the group (cargo, rustc, git), or scopectl's own staging
//! names in the cache (a `.download-`, `.unpack-` or `.checkout-` entry
//! means it was downloading, unpacking a `.crate`, or checking out).
//!
//! `SCOPE_CRASH_TRIALS` (default 12, the short form CI runs),
//! `SCOPE_CRASH_SEED` (default: from the clock, printed, so a failure can be
//! replayed) and `SCOPE_CRASH_ONLY` (one command's name, for a targeted
//! campaign); `bench/crash-campaign.sh` runs the long form.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use scope_test_support::{FixtureRegistry, Package};
use support::{output, stderr, stdout, HomeState, TestContext};

/// A small, seeded generator (xorshift64*): the campaign replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The active generation's own files, as the home's must match them.
fn generation_files(home: &Path, current: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dir = home.join(current);
    (
        fs_err::read(dir.join("plugins.toml")).unwrap(),
        fs_err::read(dir.join("resolved.lock")).unwrap(),
        fs_err::read(dir.join("scope-host")).unwrap(),
    )
}

/// The numbers of the generations there are.
fn generations(home: &Path) -> Vec<u64> {
    let mut numbers: Vec<u64> = fs_err::read_dir(home.join("generations"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    numbers.sort();
    numbers
}

/// Whether a cargo, rustc or git runs in process group `group`.
fn in_a_tool(group: u32) -> Option<&'static str> {
    let entries = fs_err::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let Ok(stat) = fs_err::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let pgrp: Option<u32> = rest.split(' ').nth(2).and_then(|g| g.parse().ok());
        if pgrp == Some(group) {
            for tool in ["cargo", "rustc", "git", "cc", "ld"] {
                if comm.ends_with(&format!("({tool}")) || comm.contains(&format!("({tool}")) {
                    return Some(tool);
                }
            }
        }
    }
    None
}

/// scopectl's staging entries in `home`'s cache (a `.download-`,
/// `.unpack-` or `.checkout-` name), with the step each belongs to. One
/// that appears while a command runs says what it was doing; older ones
/// are left by earlier kills (until `gc` removes them).
fn staging(home: &Path) -> BTreeMap<String, &'static str> {
    fn walk(dir: &Path, depth: usize, found: &mut BTreeMap<String, &'static str>) {
        for entry in fs_err::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            for (prefix, step) in [
                (".download-", "downloading a .crate"),
                (".unpack-", "unpacking a .crate"),
                (".checkout-", "checking out git"),
            ] {
                if name.starts_with(prefix) {
                    found.insert(entry.path().display().to_string(), step);
                }
            }
            if depth > 0 && entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&entry.path(), depth - 1, found);
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(&home.join("cache"), 4, &mut found);
    found
}

/// A registry plugin whose `.crate` unpacks to 48 MiB, so that kills land
/// inside unpacking too.
fn publish_glow(server: &FixtureRegistry) {
    let mut package = Package::new("glow", "1.0.0").api("^0.1");
    let table: String = (0..16_384)
        .map(|i| format!("{i:08} frame table line\n"))
        .collect();
    for n in 0..96 {
        package = package.file(&format!("tables/{n}.txt"), &table);
    }
    package.publish(server);
}

#[test]
#[allow(clippy::disallowed_methods)] // the campaign's own switches
fn killed_commands_leave_the_home_as_before_or_complete() {
    let trials: usize = std::env::var("SCOPE_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("SCOPE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash campaign: {trials} trials, SCOPE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let context = TestContext::new();
    let home = context.home();
    let repo = support::repo();
    let path = |p: &str| repo.join(p).display().to_string();
    let git = support::invert_repo(&context.temp.path().join("invert-git"));
    git.commit("invert");
    let git_url = git.url();
    let server = FixtureRegistry::start();
    publish_glow(&server);
    support::with_registry(&context, &server);
    let run = |args: &[String]| output(context.scopectl().args(args));
    let ok = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    // Generation 2 has color-generator; exported for the import trials.
    ok(&["install", &path("fixtures/plugins/invert")]);
    ok(&["install", &path("fixtures/plugins/color-generator")]);
    let tar = context.temp.path().join("gen2.tar");
    ok(&["export", "--output", tar.to_str().unwrap()]);
    ok(&["uninstall", "color-generator"]);

    let commands: Vec<(&str, Vec<String>)> = vec![
        (
            "install path",
            vec!["install".into(), path("fixtures/plugins/color-generator")],
        ),
        (
            "uninstall",
            vec!["uninstall".into(), "color-generator".into()],
        ),
        ("install git", vec!["install".into(), git_url.clone()]),
        (
            "install path again",
            vec!["install".into(), path("fixtures/plugins/invert")],
        ),
        ("build", vec!["build".into(), "--force".into()]),
        ("rollback", vec!["rollback".into()]),
        ("import", vec!["import".into(), tar.display().to_string()]),
        ("gc", vec!["gc".into(), "--keep".into(), "3".into()]),
        (
            "install registry",
            vec![
                "install".into(),
                "glow".into(),
                "--registry".into(),
                "fixture".into(),
            ],
        ),
        (
            "uninstall registry",
            vec!["uninstall".into(), "glow".into()],
        ),
        ("sync", vec!["sync".into()]),
    ];
    // `SCOPE_CRASH_ONLY=NAME` (e.g. `install registry`): a targeted campaign.
    let only = std::env::var("SCOPE_CRASH_ONLY").ok();
    let commands: Vec<_> = commands
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    assert!(!commands.is_empty(), "SCOPE_CRASH_ONLY names no command");
    // How long each takes when left alone, to draw kill instants over.
    let mut durations: BTreeMap<&str, Duration> = BTreeMap::new();
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    // The registry trials always change something: glow is there to
    // uninstall, or missing to install, downloaded and unpacked anew.
    let prepare = |name: &str| {
        let has_glow =
            fs_err::read_to_string(home.join("plugins.toml")).is_ok_and(|t| t.contains("glow"));
        if name == "install registry" {
            if has_glow {
                let _ = run(&["uninstall".into(), "glow".into()]);
            }
            let _ = fs_err::remove_dir_all(home.join("cache/registry"));
        }
        if name == "uninstall registry" && !has_glow {
            let _ = run(&[
                "install".into(),
                "glow".into(),
                "--registry".into(),
                "fixture".into(),
            ]);
        }
    };
    for trial in 0..trials {
        let (name, args) = &commands[(rng.next() % commands.len() as u64) as usize];
        let typical = *durations.entry(name).or_insert_with(|| {
            // A first run, not killed, measures it.
            prepare(name);
            let started = Instant::now();
            let _ = run(args);
            started.elapsed()
        });
        prepare(name);
        let before = HomeState::of(&home);
        let known = generations(&home);
        let staged = staging(&home);
        let delay = typical.mul_f64(rng.unit() * 1.1);
        let mut child = context.scopectl();
        child.args(args).stdout(Stdio::null()).stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut child, 0);
        let mut child = child.spawn().unwrap();
        std::thread::sleep(delay);
        let group = child.id();
        let tool = in_a_tool(group);
        let own = staging(&home)
            .into_iter()
            .find(|(path, _)| !staged.contains_key(path))
            .map_or("in scopectl", |(_, step)| step);
        let finished = child.try_wait().unwrap().is_some();
        // The whole group: scopectl and the tools it runs.
        let _ = rustix::process::kill_process_group(
            rustix::process::Pid::from_raw(group as i32).unwrap(),
            rustix::process::Signal::KILL,
        );
        let _ = child.wait();
        let phase = match (finished, tool) {
            (true, _) => "after it ended".to_owned(),
            (false, Some(tool)) => format!("inside {tool}"),
            (false, None) => own.to_owned(),
        };
        *phases.entry(format!("{name:<20} {phase}")).or_default() += 1;

        // The next command recovers; the home is before or complete.
        let repair = output(context.scopectl().args(["doctor", "--repair"]));
        let doctor = output(context.scopectl().arg("doctor"));
        let after = HomeState::of(&home);
        let mut problems = Vec::new();
        if !doctor.status.success() {
            problems.push(format!("doctor: {}{}", stdout(&doctor), stdout(&repair)));
        }
        if after != before {
            match &after.current {
                Some(current) => {
                    let number: Option<u64> =
                        current.rsplit('/').next().and_then(|n| n.parse().ok());
                    let (plugins_toml, resolved_lock, host) = generation_files(&home, current);
                    if after.plugins_toml.as_ref() != Some(&plugins_toml)
                        || after.resolved_lock.as_ref() != Some(&resolved_lock)
                        || after.host.as_ref() != Some(&host)
                    {
                        problems.push(format!("the home's files are not generation {current}'s"));
                    }
                    // A change makes a new generation; only rollback
                    // switches to one that was there.
                    let new = number.is_some_and(|n| !known.contains(&n));
                    let switched =
                        *name == "rollback" && number.is_some_and(|n| known.contains(&n));
                    if !new && !switched {
                        problems.push(format!(
                            "changed, but not to a new or existing complete generation: {current}"
                        ));
                    }
                }
                None => problems.push("no current generation".into()),
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "trial {trial} ({name}, killed {} ms in, {phase}): {}",
                delay.as_millis(),
                problems.join("; ")
            ));
        }
    }
    eprintln!("phases hit ({} trials):", trials);
    for (phase, n) in &phases {
        eprintln!("  {n:>4}  {phase}");
    }
    // No cache entry is corrupt: the plugins install again from it.
    let out = run(&["install".into(), git_url]);
    assert!(out.status.success(), "after the campaign: {}", stderr(&out));
    let out = run(&[
        "install".into(),
        "glow".into(),
        "--registry".into(),
        "fixture".into(),
    ]);
    assert!(out.status.success(), "after the campaign: {}", stderr(&out));
    assert!(
        failures.is_empty(),
        "{} of {trials} trials failed (SCOPE_CRASH_SEED={seed}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
