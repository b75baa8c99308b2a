//! `scopectl demo`, as a new user runs it.

use crate::support;

use std::process::Command;

use support::{output, stderr, TestContext};

#[test]
fn demo_builds_a_host_writes_a_video_and_reuses_its_build() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let first = output(context.scopectl().args(["demo", "--frames", "12"]));
    assert!(first.status.success(), "{}", stderr(&first));
    let home = context.home();
    let video = home.join("demo.y4m");
    assert!(stderr(&first).contains(&format!(
        "Wrote 12 frames of 512x512 video to {}",
        video.display()
    )));
    assert!(
        stderr(&first).contains("run --pipeline color-generator --pipeline invert"),
        "{}",
        stderr(&first)
    );

    assert_eq!(
        support::probe(&video, "width,height,nb_read_frames"),
        "512,512,12"
    );

    // The real layout of a home.
    assert_eq!(
        fs_err::read_link(home.join("current")).unwrap(),
        std::path::Path::new("generations/1")
    );
    for file in [
        "scope-host",
        "plugins.toml",
        "resolved.lock",
        "generation.toml",
    ] {
        assert!(home.join("generations/1").join(file).is_file(), "{file}");
    }
    let lock_path = home.join("resolved.lock");
    let lock =
        scope_lockfile::Lockfile::parse(&lock_path, &fs_err::read_to_string(&lock_path).unwrap())
            .unwrap();
    let pinned: Vec<&str> = lock.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        pinned,
        ["color-generator", "scope-invert", "temporal-blend"]
    );
    let graph: Vec<&str> = lock.crates.iter().map(|c| c.name.as_str()).collect();
    for name in [
        "fastrand",
        "lexopt",
        "libc",
        "scope-host",
        "scope-plugin-api",
    ] {
        assert!(
            graph.contains(&name),
            "the host's crate graph lists {name}: {graph:?}"
        );
    }
    let plugins_toml = fs_err::read_to_string(home.join("plugins.toml")).unwrap();
    let intent =
        scope_lockfile::PluginsToml::parse(&home.join("plugins.toml"), &plugins_toml).unwrap();
    assert_eq!(intent.plugins().len(), 3);

    let pipelines = output(Command::new(home.join("bin/scope-host")).args(["pipelines", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&pipelines.stdout).unwrap();
    let ids: Vec<&str> = json["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["color-generator", "invert", "temporal-blend"]);
    let red = &json["pipelines"][0]["params"][0];
    assert_eq!(red["key"], "color_r");
    assert_eq!(
        (
            red["min"].as_i64(),
            red["max"].as_i64(),
            red["default"].as_i64()
        ),
        (Some(0), Some(255), Some(128))
    );
    assert_eq!(json["pipelines"][1]["params"][0]["max"].as_f64(), Some(1.0));

    // A second run compiles nothing new and makes no new generation.
    let second = output(context.scopectl().args(["demo", "--frames", "3"]));
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("Fresh generation 1 already has this host"),
        "{}",
        stderr(&second)
    );
    assert!(!home.join("generations/2").exists());
}

#[test]
fn a_crash_in_the_demo_leaves_the_home_as_before_or_at_the_new_generation() {
    for (phase, switched) in [("before-switch", false), ("after-switch", true)] {
        let context = TestContext::new();
        let home = context.home();
        let crashed = output(
            context
                .scopectl()
                .args(["demo", "--frames", "1"])
                .env("SCOPE_FAILPOINT", phase),
        );
        assert!(!crashed.status.success(), "{phase}: stopped");
        assert_eq!(
            fs_err::read_link(home.join("current")).is_ok(),
            switched,
            "{phase}"
        );
        if !switched {
            assert!(!home.join("plugins.toml").exists(), "{phase}");
        }
        let again = output(context.scopectl().args(["demo", "--frames", "1"]));
        assert!(again.status.success(), "{phase}: {}", stderr(&again));
        assert_eq!(
            fs_err::read_link(home.join("current")).unwrap(),
            std::path::Path::new("generations/1"),
            "{phase}: one generation, whole"
        );
        assert_eq!(
            fs_err::read(home.join("plugins.toml")).unwrap(),
            fs_err::read(home.join("generations/1/plugins.toml")).unwrap(),
            "{phase}"
        );
        assert!(!home.join(".transaction").exists(), "{phase}");
    }
}
