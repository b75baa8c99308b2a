//! Network faults at the level a user meets them: `scopectl install` from a
//! git HTTP server (git's own `http-backend`) and from the fixture registry,
//! through a loopback proxy that breaks answers. A transient fault is
//! retried and the install goes through; a refusal or an exhausted retry
//! fails in bounded time naming the URL, and leaves the home as it was,
//! with nothing half-written in the cache (the same install then works).

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use scope_test_support::{Fault, FaultProxy, FixtureRegistry, GitHttpServer, Package};
use support::{output, stderr, TestContext};

/// Every entry under `dir` (not following links), depth first.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        found.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&path));
        }
    }
    found
}

/// Every file of the home outside its cache (and its lock file, which is
/// always empty), with its bytes (a symlink's target for a link).
fn home_files(home: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for path in walk(home) {
        let relative = path.strip_prefix(home).unwrap().to_owned();
        let meta = fs_err::symlink_metadata(&path).unwrap();
        if relative.starts_with("cache") || relative == Path::new(".lock") || meta.is_dir() {
            continue;
        }
        let bytes = if meta.is_symlink() {
            fs_err::read_link(&path)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else {
            fs_err::read(&path).unwrap()
        };
        files.insert(relative.display().to_string(), bytes);
    }
    files
}

/// Names in the cache that only an interrupted write leaves behind.
fn half_written(home: &Path) -> Vec<String> {
    walk(&home.join("cache"))
        .iter()
        .filter_map(|p| p.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| {
            [".download-", ".unpack-", ".checkout-"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .collect()
}

struct Case {
    fault: Fault,
    times: usize,
    /// Whether the install goes through (after retries).
    succeeds: bool,
    /// Words the error must contain when it fails.
    says: &'static str,
}

const fn case(fault: Fault, times: usize, succeeds: bool, says: &'static str) -> Case {
    Case {
        fault,
        times,
        succeeds,
        says,
    }
}

/// The faults every source meets (3 retries are allowed; 4 failures in a
/// row exhaust them).
fn cases() -> Vec<Case> {
    vec![
        case(Fault::ResetBeforeAnswer, 1, true, ""),
        case(Fault::ResetMidBody, 1, true, ""),
        case(Fault::Stall(Duration::from_secs(4)), 1, true, ""),
        case(Fault::Status(503, None), 2, true, ""),
        case(Fault::Status(429, Some(1)), 1, true, ""),
        case(Fault::Status(502, None), 4, false, "after 4 attempts"),
        case(Fault::Status(404, None), 1, false, "404"),
        case(Fault::Status(403, None), 1, false, "403"),
    ]
}

/// A scene: a new home whose `plugins.toml` is `toml`, a `setup` command
/// run on a healthy network, then the `command` under test with the fault
/// on the next answers to paths containing `on`.
struct Scene<'a> {
    toml: &'a str,
    proxy: &'a FaultProxy,
    setup: &'a [&'a str],
    command: &'a [&'a str],
    on: &'a str,
}

/// Runs the command of `scene` with `case`'s fault and checks the outcome;
/// after a failure, that the home is unchanged and the same command works
/// once the network is healthy.
fn check(scene: &Scene, case: &Case) {
    let context = TestContext::new();
    fs_err::create_dir_all(context.home()).unwrap();
    fs_err::write(context.home().join("plugins.toml"), scene.toml).unwrap();
    if !scene.setup.is_empty() {
        let setup = output(context.scopectl().args(scene.setup));
        assert!(setup.status.success(), "{}", stderr(&setup));
    }
    let before = home_files(&context.home());
    scene
        .proxy
        .inject_on(scene.on, case.fault.clone(), case.times);
    let started = Instant::now();
    let out = output(
        context
            .scopectl()
            .env("SCOPE_HTTP_TIMEOUT", "1")
            .args(scene.command),
    );
    let took = started.elapsed();
    let what = format!("{:?} x{} on {:?}", case.fault, case.times, scene.command);
    let error = stderr(&out);
    let said = error
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("ok");
    println!("{what}: {said} ({took:.1?})");
    assert_eq!(
        out.status.success(),
        case.succeeds,
        "{what}: {}",
        stderr(&out)
    );
    assert_eq!(scene.proxy.pending(), 0, "{what}: every fault was met");
    assert!(half_written(&context.home()).is_empty(), "{what}");
    if case.succeeds {
        return;
    }
    assert!(error.contains(case.says), "{what}: {error}");
    assert!(
        error.contains(&scene.proxy.url("127.0.0.1:")),
        "{what}: the error names the URL: {error}"
    );
    assert_eq!(
        home_files(&context.home()),
        before,
        "{what}: the home changed"
    );
    let again = output(context.scopectl().args(scene.command));
    assert!(
        again.status.success(),
        "{what}, then healthy: {}",
        stderr(&again)
    );
}

#[test]
fn git_installs_survive_transient_faults_and_refusals_change_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    support::invert_repo(&scratch.path().join("invert")).commit("invert");
    let server = GitHttpServer::start(scratch.path());
    let proxy = FaultProxy::start(&server.address());
    let url = proxy.url(&server.url("invert"));
    let scene = Scene {
        toml: "# Git plugins.\n[plugins]\n",
        proxy: &proxy,
        setup: &[],
        command: &["install", &url, "--no-build"],
        on: "/invert",
    };
    for case in cases() {
        check(&scene, &case);
    }
}

#[test]
fn registry_installs_survive_transient_faults_and_refusals_change_nothing() {
    let server = FixtureRegistry::start();
    Package::new("glow", "1.0.0")
        .api("^0.1")
        .file("src/big.rs", &"// padding\n".repeat(2_000))
        .publish(&server);
    Package::new("bad-sum", "1.0.0")
        .api("^0.1")
        .wrong_checksum()
        .publish(&server);
    let proxy = FaultProxy::start(&server.address());
    let toml = format!(
        "# Through the fault proxy.\n[plugins]\n\n[registries.fixture]\nindex = \"{}\"\n",
        proxy.url(&server.index_url())
    );
    // `install --no-build` resolves from the index; `fetch` downloads.
    let scene = Scene {
        toml: &toml,
        proxy: &proxy,
        setup: &["install", "glow", "--registry", "fixture", "--no-build"],
        command: &["fetch"],
        on: "/dl/",
    };
    for case in cases() {
        check(&scene, &case);
    }

    // A checksum mismatch is refused at once: no retry, the URL named,
    // nothing kept, the home unchanged.
    let context = TestContext::new();
    fs_err::create_dir_all(context.home()).unwrap();
    fs_err::write(context.home().join("plugins.toml"), &toml).unwrap();
    let recorded = output(context.scopectl().args([
        "install",
        "bad-sum",
        "--registry",
        "fixture",
        "--no-build",
    ]));
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let before = home_files(&context.home());
    let requests = proxy.requests();
    let out = output(context.scopectl().arg("fetch"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let error = stderr(&out);
    assert!(error.contains("failed verification"), "{error}");
    assert!(error.contains("/dl/bad-sum/1.0.0"), "{error}");
    assert_eq!(
        proxy.requests() - requests,
        3,
        "config.json, the index file, one download"
    );
    assert_eq!(home_files(&context.home()), before);
    assert!(half_written(&context.home()).is_empty());
}
