//! The committed man pages are what the clap definitions generate now;
//! `UPDATE_MAN=1 cargo test --test man` rewrites them. Completions render.

mod support;

use support::{output, stdout, TestContext};

#[test]
#[allow(clippy::disallowed_methods)] // UPDATE_MAN is the test's own switch
fn the_committed_man_pages_are_current() {
    let dir = support::repo().join("man");
    let pages = scopectl::commands::completions::man_pages().unwrap();
    if std::env::var_os("UPDATE_MAN").is_some() {
        scopectl::commands::completions::write_man_pages(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for (name, contents) in &pages {
        if fs_err::read(dir.join(name)).ok().as_ref() != Some(contents) {
            stale.push(name.clone());
        }
    }
    let committed = fs_err::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert!(stale.is_empty() && committed == pages.len(), "stale or missing man pages {stale:?} ({committed} committed, {} generated): run `UPDATE_MAN=1 cargo test --test man`", pages.len());
    assert!(pages.iter().any(|(n, _)| n == "scopectl-install.1"));
    assert!(pages.iter().any(|(n, _)| n == "scope-host.1"));
}

#[test]
fn completions_render_for_bash() {
    let context = TestContext::new();
    let out = output(context.scopectl().args(["completions", "bash"]));
    assert!(out.status.success());
    assert!(stdout(&out).contains("_scopectl()"), "{}", stdout(&out));
    assert!(stdout(&out).contains("rollback"));
}
