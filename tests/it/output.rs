//! What a person reads: error messages with their hints, plans and JSON
//! documents, compared whole as snapshots (`tests/it/snapshots/`) with the
//! volatile parts redacted, so a change of wording is a reviewed diff.
//! After a deliberate change: `INSTA_UPDATE=always cargo test --test it output::`,
//! then review `git diff tests/it/snapshots`.

use crate::support;

use std::process::Output;

use support::{output, repo, TestContext};

/// stdout and stderr with the exit status, the home, the scratch directory,
/// the repository, times, commits and checksums redacted.
fn shown(context: &TestContext, out: &Output) -> String {
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().map_or("signal".into(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    redact(context, &text)
}

fn redact(context: &TestContext, text: &str) -> String {
    let home = fs_err::canonicalize(context.home()).unwrap_or(context.home());
    let scratch = fs_err::canonicalize(context.temp.path()).unwrap();
    let mut text = text
        .replace(&home.display().to_string(), "[HOME]")
        .replace(&context.home().display().to_string(), "[HOME]")
        .replace(&scratch.display().to_string(), "[SCRATCH]")
        .replace(&repo().display().to_string(), "[REPO]");
    // RFC 3339 times, and hex runs of 40 (commits) or 64 (SHA-256) digits.
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        let hex = rest.chars().take_while(char::is_ascii_hexdigit).count();
        if is_time(rest) {
            redacted.push_str("[TIME]");
            rest = &rest[20..];
        } else if hex == 40 || hex == 64 {
            redacted.push_str(if hex == 40 { "[COMMIT]" } else { "[SHA256]" });
            rest = &rest[hex..];
        } else if hex > 0 {
            redacted.push_str(&rest[..hex]);
            rest = &rest[hex..];
        } else {
            redacted.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    text = redacted;
    text
}

/// `2026-11-22T04:09:30Z`.
fn is_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

fn fixture(relative: &str) -> String {
    repo().join(relative).display().to_string()
}

#[test]
fn usage_errors_show_what_was_wrong_and_the_accepted_forms() {
    let context = TestContext::new();
    let out = output(context.scopectl().args(["install", "not a spec!"]));
    insta::assert_snapshot!("install_not_a_spec", shown(&context, &out));
    let out = output(context.scopectl().args(["install", "scope-host"]));
    insta::assert_snapshot!("install_a_reserved_name", shown(&context, &out));
    let out = output(context.scopectl().args(["uninstall", "Bad/Name"]));
    insta::assert_snapshot!("uninstall_not_a_name", shown(&context, &out));
}

#[test]
fn operation_errors_end_with_a_hint() {
    let context = TestContext::new();
    let out = output(context.scopectl().args(["uninstall", "my_fx"]));
    insta::assert_snapshot!("uninstall_not_installed", shown(&context, &out));
    let out = output(context.scopectl().args(["install", "./no-such-dir"]));
    insta::assert_snapshot!("install_missing_directory", shown(&context, &out));
    let out = output(context.scopectl().arg("rollback"));
    insta::assert_snapshot!("rollback_nothing_active", shown(&context, &out));
    let out = output(context.scopectl().args(["sync", "--locked"]));
    insta::assert_snapshot!("sync_locked_without_a_lock", shown(&context, &out));
    let out = output(context.scopectl().args([
        "install",
        "--no-build",
        &fixture("fixtures/broken-plugins/not-a-plugin"),
    ]));
    insta::assert_snapshot!("install_not_a_plugin", shown(&context, &out));
}

#[test]
fn plans_documents_and_refusals_of_a_home_with_plugins() {
    let context = TestContext::new();
    let invert = fixture("fixtures/plugins/invert");
    let twice = fixture("fixtures/test-plugins/invert-twice");
    let out = output(
        context
            .scopectl()
            .args(["install", "--dry-run", &invert, &twice]),
    );
    insta::assert_snapshot!("install_dry_run", shown(&context, &out));
    let out = output(context.scopectl().args(["install", &invert, &twice]));
    insta::assert_snapshot!("install", shown(&context, &out));
    let out = output(context.scopectl().args(["install", &invert]));
    insta::assert_snapshot!("install_again", shown(&context, &out));
    let out = output(context.scopectl().args(["uninstall", "scope_invert"]));
    insta::assert_snapshot!("uninstall_a_dependency", shown(&context, &out));
    let out = output(context.scopectl().args(["list", "--json"]));
    insta::assert_snapshot!("list_json", shown(&context, &out));
    let out = output(context.scopectl().args(["history", "--json"]));
    insta::assert_snapshot!("history_json", shown(&context, &out));
    let out = output(context.scopectl().args(["update", "--check", "--json"]));
    insta::assert_snapshot!("update_check_json", shown(&context, &out));
    let out = output(context.scopectl().args(["why", "scope-invert"]));
    insta::assert_snapshot!("why", shown(&context, &out));
}

#[test]
fn a_missing_home_is_named_and_never_created_by_a_reader() {
    let context = TestContext::new();
    for (name, args) in [
        ("list_without_a_home", &["list"][..]),
        ("history_without_a_home", &["history", "--json"]),
        ("doctor_without_a_home", &["doctor"]),
    ] {
        let out = output(context.scopectl().args(args));
        insta::assert_snapshot!(name, shown(&context, &out));
    }
    assert!(!context.home().exists(), "no reader created the home");
    let out = output(context.scopectl().args([
        "install",
        "--dry-run",
        &fixture("fixtures/plugins/invert"),
    ]));
    assert!(out.status.success(), "{}", shown(&context, &out));
    assert!(!context.home().exists(), "nor did a dry run");
    // Nor one that fetches a git repository (into a scratch cache).
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    upstream.commit("first");
    let out = output(
        context
            .scopectl()
            .args(["install", "--dry-run", &upstream.url()]),
    );
    assert!(out.status.success(), "{}", shown(&context, &out));
    assert!(!context.home().exists(), "nor a dry run of a git plugin");
}

#[test]
fn conventions_quiet_levels_causes_and_empty_answers() {
    let context = TestContext::new();
    fs_err::create_dir_all(context.home()).unwrap();
    let out = output(context.scopectl().args(["pipelines", "--json"]));
    insta::assert_snapshot!("pipelines_json_on_an_empty_home", shown(&context, &out));
    let out = output(context.scopectl().args(["-qq", "uninstall", "nope"]));
    insta::assert_snapshot!("quiet_twice", shown(&context, &out));
    let out = output(context.scopectl().args(["-vv", "list"]));
    assert!(out.status.success(), "-vv counts");
    fs_err::write(
        context.home().join("plugins.toml"),
        "[plugins]\nfx = { path = \"/nowhere/fx\" }\n",
    )
    .unwrap();
    let out = output(context.scopectl().arg("sync"));
    insta::assert_snapshot!("caused_by", shown(&context, &out));
}

#[test]
fn env_prints_the_line_that_puts_the_hosts_directory_on_path() {
    let context = TestContext::new();
    let out = output(context.scopectl().arg("env"));
    insta::assert_snapshot!("env_sh", shown(&context, &out));
    for shell in ["bash", "zsh"] {
        let named = output(context.scopectl().args(["env", "--shell", shell]));
        assert!(
            named.status.success(),
            "{shell}: {}",
            support::stderr(&named)
        );
        assert_eq!(named.stdout, out.stdout, "{shell} takes the POSIX line");
    }
    let out = output(context.scopectl().args(["env", "--shell", "fish"]));
    insta::assert_snapshot!("env_fish", shown(&context, &out));
    fs_err::create_dir_all(context.home()).unwrap();
    let out = output(context.scopectl().arg("run"));
    insta::assert_snapshot!("run_without_host_arguments", shown(&context, &out));
}
