//! What a person reads: error messages with their hints, plans and JSON
//! documents, compared whole as snapshots (`tests/it/snapshots/`) with the
//! volatile parts redacted, so a change of wording is a reviewed diff.
//! After a deliberate change: `INSTA_UPDATE=always cargo test --test it output::`,
//! then review `git diff tests/it/snapshots`.

use crate::support;

use support::snapshot::{self, scopectl_snapshot};
use support::{output, repo, TestContext};

fn fixture(relative: &str) -> String {
    repo().join(relative).display().to_string()
}

#[test]
fn usage_errors_show_what_was_wrong_and_the_accepted_forms() {
    let context = TestContext::new();
    let out = output(context.scopectl().args(["install", "not a spec!"]));
    scopectl_snapshot!(&context, "install_not_a_spec", &out);
    let out = output(context.scopectl().args(["install", "scope-host"]));
    scopectl_snapshot!(&context, "install_a_reserved_name", &out);
    let out = output(context.scopectl().args(["uninstall", "Bad/Name"]));
    scopectl_snapshot!(&context, "uninstall_not_a_name", &out);
}

#[test]
fn operation_errors_end_with_a_hint() {
    let context = TestContext::new();
    let out = output(context.scopectl().args(["uninstall", "my_fx"]));
    scopectl_snapshot!(&context, "uninstall_not_installed", &out);
    let out = output(context.scopectl().args(["install", "./no-such-dir"]));
    scopectl_snapshot!(&context, "install_missing_directory", &out);
    let out = output(context.scopectl().arg("rollback"));
    scopectl_snapshot!(&context, "rollback_nothing_active", &out);
    let out = output(context.scopectl().args(["sync", "--locked"]));
    scopectl_snapshot!(&context, "sync_locked_without_a_lock", &out);
    let out = output(context.scopectl().args([
        "install",
        "--no-build",
        &fixture("fixtures/broken-plugins/not-a-plugin"),
    ]));
    scopectl_snapshot!(&context, "install_not_a_plugin", &out);
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
    scopectl_snapshot!(&context, "install_dry_run", &out);
    let out = output(context.scopectl().args(["install", &invert, &twice]));
    scopectl_snapshot!(&context, "install", &out);
    let out = output(context.scopectl().args(["install", &invert]));
    scopectl_snapshot!(&context, "install_again", &out);
    let out = output(context.scopectl().args(["uninstall", "scope_invert"]));
    scopectl_snapshot!(&context, "uninstall_a_dependency", &out);
    let out = output(context.scopectl().args(["list", "--json"]));
    scopectl_snapshot!(&context, "list_json", &out);
    let out = output(context.scopectl().args(["history", "--json"]));
    scopectl_snapshot!(&context, "history_json", &out);
    let out = output(context.scopectl().args(["update", "--check", "--json"]));
    scopectl_snapshot!(&context, "update_check_json", &out);
    let out = output(context.scopectl().args(["why", "scope-invert"]));
    scopectl_snapshot!(&context, "why", &out);
    let out = output(context.scopectl().arg("list"));
    scopectl_snapshot!(&context, "list", &out);

    // A hand edit, previewed: what sync would do, and nothing done.
    let toml = context.home().join("plugins.toml");
    let text = fs_err::read_to_string(&toml).unwrap();
    let edited: String = text
        .lines()
        .filter(|l| !l.starts_with("invert-twice"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs_err::write(&toml, &edited).unwrap();
    let before = support::HomeState::of(&context.home());
    let out = output(context.scopectl().args(["sync", "--dry-run"]));
    scopectl_snapshot!(&context, "sync_dry_run_after_a_hand_edit", &out);
    assert_eq!(support::HomeState::of(&context.home()), before);
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
        scopectl_snapshot!(&context, name, &out);
    }
    assert!(!context.home().exists(), "no reader created the home");
    let out = output(context.scopectl().args([
        "install",
        "--dry-run",
        &fixture("fixtures/plugins/invert"),
    ]));
    assert!(out.status.success(), "{}", snapshot::shown(&context, &out));
    assert!(!context.home().exists(), "nor did a dry run");
    // Nor one that fetches a git repository (into a scratch cache).
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    upstream.commit("first");
    let out = output(
        context
            .scopectl()
            .args(["install", "--dry-run", &upstream.url()]),
    );
    assert!(out.status.success(), "{}", snapshot::shown(&context, &out));
    assert!(!context.home().exists(), "nor a dry run of a git plugin");
}

#[test]
fn conventions_quiet_levels_causes_and_empty_answers() {
    let context = TestContext::new();
    fs_err::create_dir_all(context.home()).unwrap();
    let out = output(context.scopectl().args(["pipelines", "--json"]));
    scopectl_snapshot!(&context, "pipelines_json_on_an_empty_home", &out);
    let out = output(context.scopectl().args(["-qq", "uninstall", "nope"]));
    scopectl_snapshot!(&context, "quiet_twice", &out);
    let out = output(context.scopectl().args(["-vv", "list"]));
    assert!(out.status.success(), "-vv counts");
    fs_err::write(
        context.home().join("plugins.toml"),
        "[plugins]\nfx = { path = \"/nowhere/fx\" }\n",
    )
    .unwrap();
    let out = output(context.scopectl().arg("sync"));
    scopectl_snapshot!(&context, "caused_by", &out);
}

#[test]
fn env_prints_the_line_that_puts_the_hosts_directory_on_path() {
    let context = TestContext::new();
    let out = output(context.scopectl().arg("env"));
    scopectl_snapshot!(&context, "env_sh", &out);
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
    scopectl_snapshot!(&context, "env_fish", &out);
    fs_err::create_dir_all(context.home()).unwrap();
    let out = output(context.scopectl().arg("run"));
    scopectl_snapshot!(&context, "run_without_host_arguments", &out);
}

/// A plugin crate in `dir` named `name`, depending on `deps` (other plugins).
fn plugin_crate(dir: &std::path::Path, name: &str, version: &str, deps: &str) {
    fs_err::create_dir_all(dir.join("src")).unwrap();
    fs_err::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\n[dependencies]\nscope-plugin-api = \"0.1\"\n{deps}\n[workspace]\n"
        ),
    )
    .unwrap();
    fs_err::write(
        dir.join("src/lib.rs"),
        "pub fn register_pipelines(_: &mut scope_plugin_api::Registry) {}\n",
    )
    .unwrap();
}

#[test]
fn a_path_plugins_requirement_is_named_in_its_own_cargo_toml() {
    let context = TestContext::new();
    let work = context.temp.path().join("work");
    plugin_crate(&work.join("vignette-fx"), "vignette-fx", "0.1.0", "");
    plugin_crate(
        &work.join("edge-glow"),
        "edge-glow",
        "0.1.0",
        "vignette-fx = \"0.3\"\n",
    );
    let install = |dir: &str| {
        output(
            context
                .scopectl()
                .args(["install", "--no-build", dir])
                .current_dir(&work),
        )
    };
    assert!(install("./vignette-fx").status.success());
    let out = install("./edge-glow");
    scopectl_snapshot!(
        &context,
        "install_a_path_plugin_needing_another_version",
        &out
    );
}
