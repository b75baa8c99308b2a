//! The README's examples marked `run by tests/it/readme.rs` run, as written,
//! in a scratch directory with a scratch home and `scopectl` on `PATH`: the
//! README cannot rot.

use crate::support;

use std::process::Command;

use support::{output, stderr, stdout, TestContext};

const RUN: &str = "<!-- run by tests/it/readme.rs";
const NOT_RUN: &str = "<!-- not run by tests/it/readme.rs: ";

/// Every ```sh block with the line before it.
fn sh_blocks(readme: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == "```sh" {
            let before = if i > 0 { lines[i - 1] } else { "" };
            let end = (i + 1..lines.len())
                .find(|&j| lines[j] == "```")
                .expect("the block ends");
            blocks.push((before.to_owned(), lines[i + 1..end].join("\n")));
            i = end;
        }
        i += 1;
    }
    blocks
}

#[test]
fn the_readme_says_where_demo_writes_its_video() {
    let readme = fs_err::read_to_string(support::repo().join("README.md")).unwrap();
    // tests/demo.rs checks that the video is there.
    assert!(readme.contains("into the video `~/.scope/demo/demo.y4m` (`<home>/demo.y4m`"));
    let cli = fs_err::read_to_string(support::repo().join("src/cli.rs")).unwrap();
    assert!(cli.contains("[default: demo.y4m in the home]"));
}

#[test]
fn every_shell_example_is_run_or_says_why_not() {
    let readme = fs_err::read_to_string(support::repo().join("README.md")).unwrap();
    for (before, block) in sh_blocks(&readme) {
        let why_not = before
            .strip_prefix(NOT_RUN)
            .and_then(|rest| rest.strip_suffix(" -->"))
            .filter(|reason| !reason.trim().is_empty());
        assert!(
            before.starts_with(RUN) || why_not.is_some(),
            "this README example is neither run by tests/it/readme.rs nor says why not \
             (`{RUN} … -->` or `{NOT_RUN}REASON -->` on the line before it):\n{block}"
        );
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // the test's own PATH, extended for the shell
fn the_readmes_marked_examples_run_as_written() {
    support::require_ffmpeg();
    let readme = fs_err::read_to_string(support::repo().join("README.md")).unwrap();
    let blocks: Vec<String> = sh_blocks(&readme)
        .into_iter()
        .filter(|(before, _)| before.starts_with(RUN))
        .map(|(_, block)| block)
        .collect();
    assert!(blocks.len() >= 2, "the README marks its runnable examples");
    // One scratch directory and home for all of them, in order, as a reader
    // following the README would have.
    let context = TestContext::new();
    let bin = context.temp.path().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_scopectl"), bin.join("scopectl")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut printed = String::new();
    let run = |block: &str, dir: &std::path::Path| {
        let mut shell = Command::new("bash");
        shell
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(dir);
        support::scrub(&mut shell, context.temp.path());
        shell.env("PATH", &path).env("SCOPE_HOME", context.home());
        let out = output(&mut shell);
        assert!(
            out.status.success(),
            "the README example failed in {}:\n{block}\n--- stdout\n{}\n--- stderr\n{}",
            dir.display(),
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    };
    for block in &blocks {
        printed += &run(block, context.temp.path());
    }
    {
        // The video example counted its frames; the host listed the pipeline.
        assert!(printed.contains("\n10\n"), "{printed}");
        assert!(printed.contains("my-fx"), "{printed}");
    }
    // The CI example rebuilt the committed set in ./scope.
    let lock = context.temp.path().join("scope/resolved.lock");
    let lock = fs_err::read_to_string(lock).unwrap();
    assert!(lock.contains("my-fx"));

    // The same CI example on a runner that checks the repository out at
    // another path, with the first checkout gone.
    let ci = blocks
        .iter()
        .find(|b| b.contains("--home ./scope"))
        .expect("the README has a CI example");
    let runner = context.temp.path().join("runner/work/checkout");
    for file in [
        "scope/plugins.toml",
        "scope/resolved.lock",
        "my-fx/Cargo.toml",
        "my-fx/src/lib.rs",
    ] {
        let to = runner.join(file);
        fs_err::create_dir_all(to.parent().unwrap()).unwrap();
        fs_err::copy(context.temp.path().join(file), to).unwrap();
    }
    fs_err::rename(
        context.temp.path().join("my-fx"),
        context.temp.path().join("my-fx-moved-away"),
    )
    .unwrap();
    run(ci, &runner);
    assert_eq!(
        fs_err::read_to_string(runner.join("scope/resolved.lock")).unwrap(),
        lock,
        "the lock is the same bytes at both checkout paths"
    );
}
