//! The lock drives the build: the host's third-party crates are the ones
//! `resolved.lock` records, `--locked` refuses to move them, and a fresh
//! home with a committed `plugins.toml` + `resolved.lock` rebuilds the same
//! crates. The third-party crates come from the fixture registry on
//! loopback, standing in for the default registry through cargo's own
//! source replacement (in a cargo home of the test's own).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use scope_lockfile::Lockfile;
use scope_test_support::{FixtureRegistry, Package};
use support::{output, stderr, TestContext};

struct Scene {
    context: TestContext,
    server: FixtureRegistry,
    cargo_home: PathBuf,
    plugin: PathBuf,
    /// The checksums of `helper` 0.9.0 and 1.0.0.
    old_helpers: [String; 2],
}

/// The version of `name` in this workspace's `Cargo.lock`.
fn workspace_version(name: &str) -> String {
    let path = support::repo().join("Cargo.lock");
    let text = fs_err::read_to_string(&path).unwrap();
    scope_lockfile::CratePin::from_cargo_lock(&path, &text)
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.version.to_string())
        .unwrap()
}

/// `helper` 0.9.0, 1.0.0 and 1.1.0 and the host's own third-party crates
/// (lexopt and libc: the real `.crate`s from cargo's cache) on the fixture registry;
/// a cargo home that uses it in place of the default registry; a plugin
/// that depends on `helper = "1"`.
fn scene() -> Scene {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    let host_crates = [
        (
            "lexopt",
            Package::new("lexopt", &workspace_version("lexopt")),
        ),
        ("libc", Package::new("libc", &workspace_version("libc"))),
    ];
    for (name, package) in host_crates {
        let version = workspace_version(name);
        let cached = fs_err::read_dir(support::cargo_home().join("registry/cache"))
            .unwrap()
            .map(|d| d.unwrap().path().join(format!("{name}-{version}.crate")))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!("{name} is in cargo's cache (the workspace build put it there)")
            });
        server.publish_archive(package, fs_err::read(cached).unwrap());
    }
    let helper = |version: &str, value: u32| {
        Package::new("helper", version)
            .file(
                "src/lib.rs",
                &format!("pub fn which() -> u32 {{ {value} }}\n"),
            )
            .publish(&server)
    };
    let old_helpers = [helper("0.9.0", 90), helper("1.0.0", 100)];
    helper("1.1.0", 110);

    let cargo_home = context.temp.path().join("cargo-home");
    fs_err::create_dir_all(&cargo_home).unwrap();
    fs_err::write(
        cargo_home.join("config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\nregistry = \"{}\"\n",
            server.index_url()
        ),
    )
    .unwrap();
    let plugin = context.temp.path().join("uses-helper");
    fs_err::create_dir_all(plugin.join("src")).unwrap();
    fs_err::write(
        plugin.join("Cargo.toml"),
        "[package]\nname = \"uses-helper\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nscope-plugin-api = \"0.1\"\nhelper = \"1\"\n\n[workspace]\n",
    )
    .unwrap();
    fs_err::write(
        plugin.join("src/lib.rs"),
        "pub fn register_pipelines(_: &mut scope_plugin_api::Registry) {\n    let _ = helper::which();\n}\n",
    )
    .unwrap();
    Scene {
        context,
        server,
        cargo_home,
        plugin,
        old_helpers,
    }
}

impl Scene {
    /// scopectl on `home`, building with the scene's cargo home, online
    /// (to loopback only) and into a target directory of its own.
    fn scopectl(&self, home: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scopectl"));
        support::scrub(&mut command, self.context.temp.path());
        command
            .arg("--home")
            .arg(home)
            .env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_NET_OFFLINE", "false")
            .env("CARGO_TARGET_DIR", self.context.temp.path().join("target"));
        command
    }

    fn home(&self, name: &str) -> PathBuf {
        self.context.temp.path().join(name)
    }
}

fn read_lock(home: &Path) -> (String, Lockfile) {
    let path = home.join("resolved.lock");
    let text = fs_err::read_to_string(&path).unwrap();
    let lock = Lockfile::parse(&path, &text).unwrap();
    (text, lock)
}

/// A copy of `lock` that pins `helper` at `version` with `checksum`.
fn pinning_helper(lock: &Lockfile, version: &str, checksum: &str) -> String {
    let mut lock = lock.clone();
    let helper = lock
        .crates
        .iter_mut()
        .find(|c| c.name == "helper")
        .expect("the host's graph has helper");
    helper.version = version.parse().unwrap();
    helper.checksum = Some(checksum.to_owned());
    lock.to_toml()
}

/// The version of `helper` the home's last host build used.
fn built_helper(home: &Path) -> String {
    let path = home.join("build/host/Cargo.lock");
    let text = fs_err::read_to_string(&path).unwrap();
    scope_lockfile::CratePin::from_cargo_lock(&path, &text)
        .unwrap()
        .into_iter()
        .find(|c| c.name == "helper")
        .map(|c| c.version.to_string())
        .unwrap()
}

#[test]
fn a_committed_lock_rebuilds_the_same_crates_and_locked_refuses_to_drift() {
    let s = scene();
    // Home A: the newest helper that `helper = "1"` allows.
    let a = s.home("a");
    let out = output(s.scopectl(&a).arg("install").arg(&s.plugin));
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, lock_a) = read_lock(&a);
    assert_eq!(built_helper(&a), "1.1.0");

    // The team pins an older compatible helper and commits both files.
    let committed = pinning_helper(&lock_a, "1.0.0", &s.old_helpers[1]);
    let plugins_toml = fs_err::read_to_string(a.join("plugins.toml")).unwrap();
    let b = s.home("b");
    fs_err::create_dir_all(&b).unwrap();
    fs_err::write(b.join("plugins.toml"), &plugins_toml).unwrap();
    fs_err::write(b.join("resolved.lock"), &committed).unwrap();
    let out = output(s.scopectl(&b).args(["sync", "--locked"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(built_helper(&b), "1.0.0", "the host is built from the lock");
    assert_eq!(
        fs_err::read_to_string(b.join("resolved.lock")).unwrap(),
        committed,
        "byte-identical"
    );

    // A lock that pins what the requirement no longer allows is refused.
    let stale = pinning_helper(&lock_a, "0.9.0", &s.old_helpers[0]);
    let c = s.home("c");
    fs_err::create_dir_all(&c).unwrap();
    fs_err::write(c.join("plugins.toml"), &plugins_toml).unwrap();
    fs_err::write(c.join("resolved.lock"), &stale).unwrap();
    let out = output(s.scopectl(&c).args(["sync", "--locked"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("cannot be built as it is, and --locked forbids changing it"),
        "{text}"
    );
    assert!(text.contains("~ crate helper v0.9.0 -> v1.1.0"), "{text}");
    assert_eq!(
        fs_err::read_to_string(c.join("resolved.lock")).unwrap(),
        stale
    );
    assert!(!c.join("current").exists(), "nothing was activated");

    // `update --check` names the crate that could move, and exits 10.
    let check = output(s.scopectl(&b).args(["update", "--check", "--json"]));
    assert_eq!(check.status.code(), Some(10), "{}", stderr(&check));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(
        report["crates"],
        serde_json::json!([{"name": "helper", "installed": "1.0.0", "newest_compatible": "1.1.0"}])
    );

    // Without --locked, a rebuild keeps the pinned helper...
    let out = output(s.scopectl(&b).arg("build"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(built_helper(&b), "1.0.0", "a rebuild keeps locked crates");
    // ...and `update` moves it within its requirement, and says so.
    let out = output(s.scopectl(&b).arg("update"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(built_helper(&b), "1.1.0");
    assert!(
        stderr(&out).contains("~ crate helper v1.0.0 -> v1.1.0"),
        "{}",
        stderr(&out)
    );
    drop(s.server);
}
