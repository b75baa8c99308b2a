//! Without `CARGO_TARGET_DIR`, hosts are compiled in one directory of the
//! user's cache per plugin API, so a second home reuses every crate the
//! first one compiled.

use std::path::PathBuf;

use crate::support;

use support::{output, repo, shared_target_dir, stderr, stdout, TestContext};

/// `hosts are compiled in DIR (WHOSE)` from `doctor`.
fn compiled_in(context: &TestContext, cache: &std::path::Path) -> (PathBuf, String) {
    let doctor = output(
        context
            .scopectl()
            .env_remove("CARGO_TARGET_DIR")
            .env("SCOPE_CACHE_DIR", cache)
            .arg("doctor"),
    );
    let text = stdout(&doctor);
    let line = text
        .lines()
        .find_map(|l| l.split_once("hosts are compiled in ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("doctor does not say where hosts compile:\n{text}"));
    let (dir, whose) = line.rsplit_once(" (").expect("DIR (WHOSE)");
    (PathBuf::from(dir), whose.trim_end_matches(')').to_owned())
}

#[test]
fn two_homes_without_cargo_target_dir_share_the_user_caches_compiled_crates() {
    let first = TestContext::new();
    let second = TestContext::new();
    let cache = first.temp.path().join("user-cache");
    let dir = cache
        .join("targets")
        .join(format!("api-{}", scope_plugin_api::API_VERSION));
    // The suite's own target directory stands in for a cache that already
    // compiled the SDK once (a cold one would only be slower).
    fs_err::create_dir_all(dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(shared_target_dir(), &dir).unwrap();

    let invert = repo().join("fixtures/plugins/invert");
    for context in [&first, &second] {
        let install = output(
            context
                .scopectl()
                .env_remove("CARGO_TARGET_DIR")
                .env("SCOPE_CACHE_DIR", &cache)
                .arg("install")
                .arg(&invert),
        );
        assert!(install.status.success(), "{}", stderr(&install));
        assert!(
            !context.home().join("build/target").exists(),
            "a home compiled into its own target directory"
        );
        assert!(context.home().join("bin/scope-host").exists());
        assert_eq!(
            compiled_in(context, &cache),
            (dir.clone(), "shared by every home of this user".to_owned())
        );
    }
    // Each build recorded the units it used (compiled or fresh), which
    // `gc` keeps; they are the ones cargo reports.
    let records: Vec<_> = fs_err::read_dir(dir.join("scopectl-builds"))
        .unwrap()
        .map(|entry| fs_err::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    let host_units = |record: &String| {
        record.lines().any(|unit| {
            fs_err::read_dir(dir.join("debug/deps"))
                .unwrap()
                .flatten()
                .any(|f| f.file_name().to_string_lossy() == format!("scope_host-{unit}.d"))
        })
    };
    assert!(
        records
            .iter()
            .any(|r| r.lines().count() >= 3 && host_units(r)),
        "no record names the host's units: {records:?}"
    );
    // A target directory of the home's own, from before: gc removes it.
    let old = first.home().join("build/target");
    fs_err::create_dir_all(old.join("debug")).unwrap();
    fs_err::write(old.join("debug/scope-host"), vec![0u8; 4096]).unwrap();
    let collected = output(
        first
            .scopectl()
            .env_remove("CARGO_TARGET_DIR")
            .env("SCOPE_CACHE_DIR", &cache)
            .arg("gc"),
    );
    assert!(collected.status.success(), "{}", stderr(&collected));
    assert!(!old.exists(), "{}", stderr(&collected));
    assert!(
        stderr(&collected).contains("(hosts compile in "),
        "{}",
        stderr(&collected)
    );
    assert!(dir.exists(), "the shared directory stays");
    // With the variable set, it wins.
    let set = output(first.scopectl().arg("doctor"));
    assert!(
        stdout(&set).contains("(CARGO_TARGET_DIR)"),
        "{}",
        stdout(&set)
    );
}
