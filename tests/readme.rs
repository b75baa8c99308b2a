//! The README's examples marked `run by tests/readme.rs` run, as written,
//! in a scratch directory with a scratch home and `scopectl` on `PATH`: the
//! README cannot rot.

mod support;

use std::process::Command;

use support::{output, stderr, stdout, TestContext};

const MARKER: &str = "<!-- run by tests/readme.rs";

/// Every ```sh block that follows the marker.
fn marked_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = readme;
    while let Some(at) = rest.find(MARKER) {
        rest = &rest[at..];
        let start = rest
            .find("```sh\n")
            .expect("a ```sh block follows the marker")
            + 6;
        let end = rest[start..].find("```").expect("the block ends") + start;
        blocks.push(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    blocks
}

#[test]
#[allow(clippy::disallowed_methods)] // the test's own PATH, extended for the shell
fn the_readmes_marked_examples_run_as_written() {
    support::require_ffmpeg();
    let readme = fs_err::read_to_string(support::repo().join("README.md")).unwrap();
    let blocks = marked_blocks(&readme);
    assert!(!blocks.is_empty(), "the README marks its runnable examples");
    for block in blocks {
        let context = TestContext::new();
        let bin = context.temp.path().join("bin");
        fs_err::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_scopectl"), bin.join("scopectl")).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut shell = Command::new("bash");
        shell
            .args(["-euo", "pipefail", "-c", &block])
            .current_dir(context.temp.path());
        support::scrub(&mut shell, context.temp.path());
        shell.env("PATH", path).env("SCOPE_HOME", context.home());
        let out = output(&mut shell);
        assert!(
            out.status.success(),
            "the README example failed:\n{block}\n--- stdout\n{}\n--- stderr\n{}",
            stdout(&out),
            stderr(&out)
        );
        // The video example counted its frames; the host listed the pipeline.
        assert!(stdout(&out).contains("\n10\n"), "{}", stdout(&out));
        assert!(stdout(&out).contains("my-fx"), "{}", stdout(&out));
    }
}
