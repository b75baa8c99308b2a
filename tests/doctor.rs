//! `scopectl doctor`: healthy, then with planted problems, then repaired.

mod support;

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
