//! `scopectl doctor`: healthy, then with planted problems, then repaired.

use crate::support;

use support::{output, repo, stderr, stdout, TestContext};

#[test]
fn doctor_finds_leftovers_and_a_broken_link_and_repairs_them() {
    let context = TestContext::new();
    let home = context.home();
    let invert = repo().join("fixtures/plugins/invert");
    assert!(output(context.scopectl().arg("install").arg(&invert))
        .status
        .success());
    let healthy = output(context.scopectl().arg("doctor"));
    assert!(
        healthy.status.success(),
        "{}\n{}",
        stdout(&healthy),
        stderr(&healthy)
    );
    assert!(
        stdout(&healthy).contains("ok       generation 1 is active and complete"),
        "{}",
        stdout(&healthy)
    );
    assert!(
        stdout(&healthy).contains("host has exactly the plugins its lock pins"),
        "{}",
        stdout(&healthy)
    );

    fs_err::create_dir_all(home.join("generations/.staging-2-abc")).unwrap();
    fs_err::remove_file(home.join("bin/scope-host")).unwrap();
    std::os::unix::fs::symlink("/nowhere", home.join("bin/scope-host")).unwrap();
    let sick = output(context.scopectl().arg("doctor"));
    assert_eq!(sick.status.code(), Some(1));
    let text = stdout(&sick);
    assert!(
        text.contains("problem  leftovers of an interrupted command: .staging-2-abc"),
        "{text}"
    );
    assert!(
        text.contains("problem  bin/scope-host does not lead to generation 1's host"),
        "{text}"
    );

    let repaired = output(context.scopectl().args(["doctor", "--repair"]));
    assert!(
        repaired.status.success(),
        "{}\n{}",
        stdout(&repaired),
        stderr(&repaired)
    );
    assert!(
        stdout(&repaired).contains("repaired leftovers"),
        "{}",
        stdout(&repaired)
    );
    assert!(
        stdout(&repaired).contains("repaired bin/scope-host"),
        "{}",
        stdout(&repaired)
    );
    assert!(!home.join("generations/.staging-2-abc").exists());
    assert!(output(context.scopectl().arg("doctor")).status.success());
    let pipelines =
        output(std::process::Command::new(home.join("bin/scope-host")).arg("pipelines"));
    assert!(pipelines.status.success(), "the link works again");
}

#[test]
fn doctor_names_a_bad_plugins_toml_a_missing_current_and_relinks_it() {
    let context = TestContext::new();
    let home = support::open_home(&context);
    let host = context.temp.path().join("host");
    fs_err::write(&host, "not a real host").unwrap();
    support::commit_generations(
        &home,
        &[(
            host.as_path(),
            "[plugins]\n".to_owned(),
            "version = 1\nhost_version = \"0.1.0\"\napi_version = \"0.1.0\"\n".to_owned(),
            "test".to_owned(),
            vec![],
        )],
    );
    fs_err::remove_file(home.root().join("current")).unwrap();
    fs_err::write(home.root().join("plugins.toml"), "[plugins\n").unwrap();
    let out = output(context.scopectl().args(["doctor", "--json"]));
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<(&str, bool)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "problem")
        .map(|c| {
            (
                c["message"].as_str().unwrap(),
                c["repairable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        problems
            .iter()
            .any(|(m, r)| m.starts_with("plugins.toml cannot be read") && !r),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(m, r)| m.starts_with("no generation is active (`current` is missing)") && *r),
        "{problems:?}"
    );
    let repaired = output(context.scopectl().args(["doctor", "--repair"]));
    assert!(
        stdout(&repaired).contains("made generation 1 active"),
        "{}",
        stdout(&repaired)
    );
    assert_eq!(home.current(), Some(1));
    assert_eq!(
        fs_err::read_to_string(home.root().join("plugins.toml")).unwrap(),
        "[plugins\n",
        "the user's file is theirs to fix"
    );
}
