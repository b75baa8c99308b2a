//! `serve --follow`: three servers on one machine follow one tag of a real
//! registry (the fleet). A signed new generation pushed to the tag becomes
//! active on all three; a bad one is rolled back by each server's gate and
//! never imported again; `/api/v1/follow` says so.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support;
use support::registry::{elsewhere, Registry};
use support::served::Served;
use support::{output, stderr, TestContext};

const PASSWORD: &str = "fleet password";

fn ok(out: std::process::Output) {
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The publisher: a home whose generations are pushed to the tag, with a
/// copy of `chaos` it can make fail.
struct Publisher {
    context: TestContext,
    key: PathBuf,
    public: PathBuf,
    chaos: PathBuf,
}

impl Publisher {
    fn new() -> Publisher {
        let context = TestContext::new();
        let prefix = context.temp.path().join("fleet");
        ok(output(
            context
                .scopectl()
                .env("SCOPE_KEY_PASSWORD", PASSWORD)
                .args(["key", "generate", "--output"])
                .arg(&prefix),
        ));
        let chaos = context.temp.path().join("chaos");
        let fixture = support::repo().join("fixtures/test-plugins/chaos");
        fs_err::create_dir_all(chaos.join("src")).unwrap();
        for file in ["Cargo.toml", "src/lib.rs"] {
            fs_err::copy(fixture.join(file), chaos.join(file)).unwrap();
        }
        Publisher {
            key: prefix.with_extension("key"),
            public: prefix.with_extension("pub"),
            chaos,
            context,
        }
    }

    fn push(&self, tag: &str) {
        ok(output(
            self.context
                .scopectl()
                .env("SCOPE_KEY_PASSWORD", PASSWORD)
                .args(["push", tag, "--sign"])
                .arg(&self.key),
        ));
    }
}

/// A server following `tag` with its stream through `chaos`, started from
/// the generation the tag points at now.
fn follower(tag: &str, public: &Path) -> (TestContext, Served) {
    let context = TestContext::new();
    ok(output(
        elsewhere(&context, &context.home())
            .args(["import", tag, "--verify"])
            .arg(public),
    ));
    let public = public.to_str().unwrap();
    let mut served = Served::start(
        &context,
        &["--follow", tag, "--interval", "3s", "--verify", public],
        &[
            "run",
            "--input",
            "-",
            "--pipeline",
            "chaos",
            "--output",
            "null",
        ],
    );
    support::feed_forever(served.child.stdin.take().unwrap());
    (context, served)
}

fn follow_status(served: &Served) -> serde_json::Value {
    served.get("/api/v1/follow").1
}

/// Waits until every server's follow status satisfies `done`; how long it took.
fn until_all(
    servers: &[(TestContext, Served)],
    done: impl Fn(&serde_json::Value) -> bool,
) -> Duration {
    let started = Instant::now();
    support::wait_until(
        || servers.iter().all(|(_, s)| done(&follow_status(s))),
        || {
            servers
                .iter()
                .map(|(_, s)| format!("{}\n{}", follow_status(s), s.log()))
                .collect::<Vec<_>>()
                .join("\n---\n")
        },
    );
    started.elapsed()
}

#[test]
fn three_servers_follow_a_tag_take_a_good_generation_and_refuse_a_bad_one() {
    let registry = Registry::start();
    let tag = registry.reference("scope/fleet:prod");
    let publisher = Publisher::new();
    ok(output(
        publisher
            .context
            .scopectl()
            .arg("install")
            .arg(&publisher.chaos),
    ));
    publisher.push(&tag);
    let servers: Vec<(TestContext, Served)> =
        (0..3).map(|_| follower(&tag, &publisher.public)).collect();
    for (_, served) in &servers {
        served.wait_healthy();
    }
    let first = follow_status(&servers[0].1)["active"].clone();
    assert!(
        first.as_str().is_some_and(|d| d.starts_with("sha256:")),
        "{first}"
    );

    // A good new generation: every server switches to it.
    ok(output(publisher.context.scopectl().arg("install").arg(
        support::repo().join("fixtures/plugins/color-generator"),
    )));
    publisher.push(&tag);
    let took = until_all(&servers, |s| {
        s["desired"] != first && s["active"] == s["desired"] && s["last_error"].is_null()
    });
    eprintln!("three servers on the new digest after {took:?}");
    let good = follow_status(&servers[0].1)["active"].clone();

    // A bad one: its plugin fails at every frame. Each gate rolls it back,
    // and it is refused from then on.
    let source = fs_err::read_to_string(publisher.chaos.join("src/lib.rs")).unwrap();
    let failing = source
        .replace(
            r#"Param::choice("fault", &FAULTS, "none")"#,
            r#"Param::choice("fault", &FAULTS, "err")"#,
        )
        .replace(r#"Param::integer("at", 10)"#, r#"Param::integer("at", 1)"#)
        .replace(
            r#"Param::bool("every", false)"#,
            r#"Param::bool("every", true)"#,
        );
    fs_err::write(publisher.chaos.join("src/lib.rs"), failing).unwrap();
    ok(output(
        publisher.context.scopectl().args(["reload", "chaos"]),
    ));
    publisher.push(&tag);
    until_all(&servers, |s| {
        s["desired"] != good
            && s["active"] == good
            && s["refused"]
                .as_array()
                .is_some_and(|r| r.contains(&s["desired"]))
    });
    // Not retried: two more intervals, and no server made another
    // generation (1 imported at the start, 2 the good one, 3 the bad one).
    std::thread::sleep(Duration::from_secs(6));
    for (context, served) in &servers {
        let history = output(context.scopectl().args(["history", "--json"]));
        let document: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
        let generations = document["generations"].as_array().unwrap();
        assert_eq!(generations.len(), 3, "{document}");
        assert_eq!(generations[1]["current"], true, "{document}");
        let reason = generations[2]["rolled_back"][0]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(reason.contains("`unloaded=0` failed"), "{document}");
        assert!(
            served.log().contains("generation 3 failed its gate"),
            "{}",
            served.log()
        );
        let metrics = served
            .client
            .get(format!("{}/metrics", served.base))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            metrics.contains("scope_gate_rollbacks_total{rule=\"unloaded\"} 1"),
            "{metrics}"
        );
    }
    for (_, served) in servers {
        let _ = served.stop();
    }
}
