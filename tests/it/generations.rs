//! `rollback` and `history` on a home with several generations.

use crate::support;

use scopectl::home::{Home, Transaction};
use scopectl::reporter::Silent;
use support::snapshot::scopectl_snapshot;
use support::{output, stderr, stdout, TestContext};

/// Generations 1..=3 of a home, each with its own host bytes and files;
/// generation 3 is active. Rollback never runs a host, so any bytes do.
fn home_with_generations(context: &TestContext) -> Home {
    let home = support::open_home(context);
    let hosts: Vec<_> = (1..=3u64)
        .map(|n| {
            let host = context.temp.path().join(format!("host-{n}"));
            fs_err::write(&host, format!("host binary {n}")).unwrap();
            host
        })
        .collect();
    let generations: Vec<_> = hosts
        .iter()
        .zip(1..=3u64)
        .map(|(host, n)| {
            (
                host.as_path(),
                format!("[plugins]\nfx = \"{n}\"\n"),
                format!("version = 1\n# generation {n}\n"),
                format!("scopectl install fx@{n}"),
                vec![scopectl::change::Change::Added {
                    name: "fx".into(),
                    version: semver::Version::new(n, 0, 0),
                }],
            )
        })
        .collect();
    support::commit_generations(&home, &generations);
    home
}

fn active(home: &Home) -> (u64, String, String) {
    let host = fs_err::read_to_string(home.host_path()).unwrap();
    (
        home.current().unwrap(),
        host,
        fs_err::read_to_string(home.plugins_toml_path()).unwrap(),
    )
}

#[test]
fn rollback_switches_to_the_previous_generation_byte_for_byte_without_cargo() {
    let context = TestContext::new();
    let home = home_with_generations(&context);
    let out = output(
        context
            .scopectl()
            .arg("rollback")
            .env("CARGO", "/bin/false"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    scopectl_snapshot!(&context, "rollback_from_3_to_2", &out);
    assert_eq!(
        active(&home),
        (2, "host binary 2".into(), "[plugins]\nfx = \"2\"\n".into())
    );
    assert_eq!(
        fs_err::read_to_string(home.resolved_lock_path()).unwrap(),
        "version = 1\n# generation 2\n"
    );

    let out = output(context.scopectl().args(["rollback", "--to", "3"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(active(&home).0, 3);
    scopectl_snapshot!(&context, "rollback_to_a_newer_generation", &out);
    let out = output(context.scopectl().args(["rollback", "--to", "1"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        active(&home),
        (1, "host binary 1".into(), "[plugins]\nfx = \"1\"\n".into())
    );
}

#[test]
fn rollback_with_nowhere_to_go_fails_and_changes_nothing() {
    let context = TestContext::new();
    let home = home_with_generations(&context);
    let out = output(context.scopectl().args(["rollback", "--to", "9"]));
    scopectl_snapshot!(
        &context,
        "rollback_to_a_generation_that_does_not_exist",
        &out
    );
    assert_eq!(active(&home).0, 3);

    output(context.scopectl().args(["rollback", "--to", "1"]));
    let out = output(context.scopectl().arg("rollback"));
    scopectl_snapshot!(&context, "rollback_from_the_oldest", &out);

    let empty = TestContext::new();
    let out = output(empty.scopectl().arg("rollback"));
    scopectl_snapshot!(&empty, "rollback_on_an_empty_home", &out);
}

#[test]
fn history_lists_every_generation_and_marks_the_current_one() {
    let context = TestContext::new();
    let _home = home_with_generations(&context);
    output(context.scopectl().args(["rollback", "--to", "2"]));
    let out = output(context.scopectl().args(["history", "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], 1);
    let generations = json["generations"].as_array().unwrap();
    let summary: Vec<(u64, bool, &str)> = generations
        .iter()
        .map(|g| {
            (
                g["number"].as_u64().unwrap(),
                g["current"].as_bool().unwrap(),
                g["command"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, false, "scopectl install fx@1"),
            (2, true, "scopectl install fx@2"),
            (3, false, "scopectl install fx@3")
        ]
    );
    assert_eq!(
        generations[0]["changes"],
        serde_json::json!(["+ fx v1.0.0"])
    );
    let text = stdout(&output(context.scopectl().arg("history")));
    assert!(text.contains("*   2  "), "{text}");
}

#[test]
fn a_second_command_waits_for_the_lock_and_says_so() {
    let context = TestContext::new();
    let home = home_with_generations(&context);
    let held = Transaction::begin(&home, None, &Silent).unwrap();
    let out = output(
        context
            .scopectl()
            .arg("rollback")
            .env("SCOPE_LOCK_TIMEOUT", "0.3"),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains(&format!(
            "Blocking: waiting for lock on {}",
            home.root().display()
        )),
        "{text}"
    );
    assert!(text.contains("gave up after 0.3 s"), "{text}");
    assert_eq!(active(&home).0, 3, "nothing changed");
    drop(held);
    let out = output(
        context
            .scopectl()
            .arg("rollback")
            .env("SCOPE_LOCK_TIMEOUT", "5"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_crash_during_rollback_leaves_one_whole_generation_active_and_loses_none() {
    for (phase, switched) in [("before-switch", false), ("after-switch", true)] {
        let context = TestContext::new();
        let home = home_with_generations(&context);
        let crashed = output(
            context
                .scopectl()
                .arg("rollback")
                .env("SCOPE_FAILPOINT", phase),
        );
        assert!(!crashed.status.success(), "{phase}: stopped");
        let expected = if switched { 2 } else { 3 };
        assert_eq!(home.current(), Some(expected), "{phase}");
        // The next command that takes the lock finishes or undoes the switch.
        let next = output(context.scopectl().args(["gc", "--keep", "10"]));
        assert!(next.status.success(), "{phase}: {}", stderr(&next));
        assert_eq!(
            active(&home),
            (
                expected,
                format!("host binary {expected}"),
                format!("[plugins]\nfx = \"{expected}\"\n")
            ),
            "{phase}: the active generation's files are published"
        );
        assert_eq!(home.generations().unwrap(), [1, 2, 3], "{phase}: none lost");
        assert!(!home.root().join(".transaction").exists(), "{phase}");
    }
}
