//! Installing plugins from a registry: the fixture registry on 127.0.0.1,
//! named in plugins.toml.

use crate::support;

use scope_test_support::{FixtureRegistry, Package};
use support::snapshot::scopectl_snapshot;
use support::{output, stderr, TestContext};

fn lock_of(context: &TestContext) -> scope_lockfile::Lockfile {
    let path = context.home().join("resolved.lock");
    scope_lockfile::Lockfile::parse(&path, &fs_err::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn a_registry_plugin_and_the_plugin_it_depends_on_are_installed_and_pinned_by_checksum() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    let base = Package::new("fx-base", "1.0.0")
        .api("^0.1")
        .publish(&server);
    Package::new("fx-base", "1.1.0")
        .api("^0.2")
        .publish(&server); // needs a future API
    Package::new("glow", "1.0.0")
        .api("^0.1")
        .dep("fx-base", "^1")
        .publish(&server);
    support::with_registry(&context, &server);

    let out = output(
        context
            .scopectl()
            .args(["install", "glow", "--registry", "fixture"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Building host with fx-base v1.0.0, glow v1.0.0"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Downloaded glow v1.0.0"),
        "{}",
        stderr(&out)
    );
    let host = context.home().join("bin/scope-host");
    let check = output(std::process::Command::new(&host).args(["self-check", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let plugins: Vec<&str> = report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        plugins,
        ["fx-base", "glow"],
        "the host has both plugins compiled in"
    );
    let lock = lock_of(&context);
    let pins: Vec<(String, String)> = lock
        .plugins
        .iter()
        .map(|p| (p.name.to_string(), p.version.to_string()))
        .collect();
    assert_eq!(
        pins,
        [
            ("fx-base".to_owned(), "1.0.0".to_owned()),
            ("glow".to_owned(), "1.0.0".to_owned())
        ]
    );
    assert_eq!(
        lock.plugins[0].source,
        scope_lockfile::PinSource::Registry {
            registry: "fixture".into(),
            checksum: base
        }
    );
    assert_eq!(lock.plugins[1].dependencies, ["fx-base".parse().unwrap()]);
    let toml = fs_err::read_to_string(context.home().join("plugins.toml")).unwrap();
    assert!(
        toml.starts_with("# Plugins from the fixture registry.\n"),
        "comments survive: {toml}"
    );
    assert!(
        toml.contains("glow = { version = \"*\", registry = \"fixture\" }"),
        "{toml}"
    );
    assert!(
        !toml.contains("fx-base ="),
        "a dependency plugin is not something the user asked for: {toml}"
    );

    let again = output(
        context
            .scopectl()
            .args(["install", "glow", "--registry", "fixture"]),
    );
    scopectl_snapshot!(&context, "reinstall_from_a_registry", &again);
}

#[test]
fn a_wrong_checksum_or_a_failing_registry_changes_nothing() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("tampered", "1.0.0")
        .api("^0.1")
        .wrong_checksum()
        .publish(&server);
    Package::new("fine", "1.0.0").api("^0.1").publish(&server);
    support::with_registry(&context, &server);
    let _ = support::assert_refused(
        &context,
        context
            .scopectl()
            .args(["install", "tampered", "--registry", "fixture"]),
        "failed verification",
    );
    assert!(!context.home().join("current").exists());

    server.switches(|s| s.fail_next = 1000);
    let out = support::assert_refused(
        &context,
        context
            .scopectl()
            .args(["install", "fine", "--registry", "fixture"])
            .env("SCOPE_HTTP_RETRIES", "1"),
        "the server answered 500",
    );
    assert!(
        stderr(&out).contains("warning:"),
        "the retry was announced: {}",
        stderr(&out)
    );
}

#[test]
fn an_undefined_registry_is_named() {
    let context = TestContext::new();
    let out = output(
        context
            .scopectl()
            .args(["install", "glow", "--registry", "nowhere"]),
    );
    scopectl_snapshot!(&context, "an_undefined_registry", &out);
}

#[test]
fn a_crash_after_the_download_changes_nothing_and_the_next_install_works() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("fine", "1.0.0").api("^0.1").publish(&server);
    support::with_registry(&context, &server);
    let before = fs_err::read(context.home().join("plugins.toml")).unwrap();
    let crashed = output(
        context
            .scopectl()
            .args(["install", "fine", "--registry", "fixture"])
            .env("SCOPE_FAILPOINT", "after-download"),
    );
    assert!(!crashed.status.success());
    assert_eq!(
        fs_err::read(context.home().join("plugins.toml")).unwrap(),
        before
    );
    assert!(!context.home().join("current").exists());
    let out = output(
        context
            .scopectl()
            .args(["install", "fine", "--registry", "fixture"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn gc_removes_old_generations_and_the_downloads_only_they_pinned() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    let old = Package::new("fx", "1.0.0").api("^0.1").publish(&server);
    support::with_registry(&context, &server);
    assert!(support::install_from_fixture(&context, "fx")
        .status
        .success());
    let new = Package::new("fx", "1.1.0").api("^0.1").publish(&server);
    let updated = output(context.scopectl().args(["update", "fx"]));
    assert!(updated.status.success(), "{}", stderr(&updated));
    let downloads = context.home().join("cache/registry/fixture/downloads");
    assert!(downloads.join(format!("{old}.crate")).exists());

    let out = output(context.scopectl().args(["gc", "--keep", "0"]));
    assert!(out.status.success(), "{}", stderr(&out));
    scopectl_snapshot!(&context, "gc_keep_0", &out);
    // How much it freed: the generation's host and files, and the download.
    let freed = stderr(&out)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Freed ").map(str::to_owned))
        .expect("gc says how much it freed");
    assert!(freed.ends_with("MiB") || freed.ends_with("KiB"), "{freed}");
    assert!(!context.home().join("generations/1").exists());
    assert!(
        context.home().join("generations/2").exists(),
        "never the current one"
    );
    assert!(
        !downloads.join(format!("{old}.crate")).exists(),
        "only generation 1 pinned it"
    );
    assert!(downloads.join(format!("{new}.crate")).exists());
    let sources: Vec<String> = fs_err::read_dir(context.home().join("cache/registry/src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(sources, [format!("fx-1.1.0-{}", &new[..16])]);
    let check =
        output(std::process::Command::new(context.home().join("bin/scope-host")).arg("self-check"));
    assert!(check.status.success());
}

#[test]
fn a_locked_plugin_forced_to_move_is_named_with_the_reason() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("base", "1.0.0").api("^0.1").publish(&server);
    support::with_registry(&context, &server);
    assert!(support::install_from_fixture(&context, "base")
        .status
        .success());
    Package::new("base", "1.2.0").api("^0.1").publish(&server);
    Package::new("needs-new-base", "1.0.0")
        .api("^0.1")
        .dep("base", ">=1.2")
        .publish(&server);
    let out =
        output(
            context
                .scopectl()
                .args(["install", "needs-new-base", "--registry", "fixture"]),
        );
    assert!(out.status.success(), "{}", stderr(&out));
    scopectl_snapshot!(&context, "a_locked_crate_moves_for_a_new_plugin", &out);
}

#[test]
fn a_conflict_declared_inside_a_registry_crate_is_refused() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    Package::new("fx", "1.0.0").api("^0.1").publish(&server);
    let manifest = "[package]\nname = \"clash\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[dependencies]\nscope-plugin-api = \"^0.1\"\n\n[package.metadata.scope]\nconflicts = [\"fx\"]\n";
    Package::new("clash", "1.0.0")
        .api("^0.1")
        .file("Cargo.toml", manifest)
        .publish(&server);
    support::with_registry(&context, &server);
    assert!(support::install_from_fixture(&context, "fx")
        .status
        .success());
    let _ = support::assert_refused(
        &context,
        context
            .scopectl()
            .args(["install", "clash", "--registry", "fixture"]),
        "clash 1.0.0 conflicts with fx",
    );
}

/// `fx-base` 1.0.0 and `glow` 1.0.0, which depends on it; `glow` as
/// `configure` makes it.
fn publish_glow_and_its_base(server: &FixtureRegistry, configure: impl FnOnce(Package) -> Package) {
    Package::new("fx-base", "1.0.0").api("^0.1").publish(server);
    configure(
        Package::new("glow", "1.0.0")
            .api("^0.1")
            .dep("fx-base", "^1"),
    )
    .publish(server);
}

#[test]
fn a_registry_that_writes_explicit_nulls_installs() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    publish_glow_and_its_base(&server, |glow| glow);
    server.switches(|sw| sw.explicit_nulls = true);
    support::with_registry(&context, &server);
    let out = support::install_from_fixture(&context, "glow");
    assert!(out.status.success(), "{}", stderr(&out));
    let pinned: Vec<String> = lock_of(&context)
        .plugins
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    assert_eq!(pinned, ["fx-base 1.0.0", "glow 1.0.0"]);
}

/// A plugin published to a named registry names its plugin dependencies by
/// that registry's index (`registry-index`); the host builds them from the
/// installed copies, never from the registry again.
#[test]
fn plugin_dependencies_named_by_a_registry_index_are_built_from_the_installed_copies() {
    let context = TestContext::new();
    let server = FixtureRegistry::start();
    publish_glow_and_its_base(&server, |glow| {
        glow.deps_from_this_registry().file(
            "src/lib.rs",
            "pub fn register_pipelines(_: &mut scope_plugin_api::Registry) { let _ = fx_base::register_pipelines; }\n",
        )
    });
    support::with_registry(&context, &server);
    let out = support::install_from_fixture(&context, "glow");
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = fs_err::read_to_string(context.home().join("build/host/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("[patch.\"{}\"]", server.index_url())),
        "{manifest}"
    );
}
