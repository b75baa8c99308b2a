//! The committed man pages are what the clap definitions generate now;
//! `UPDATE_MAN=1 cargo test --test it man::` rewrites them. Completions render.

use crate::support;

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
    assert!(stale.is_empty() && committed == pages.len(), "stale or missing man pages {stale:?} ({committed} committed, {} generated): run `UPDATE_MAN=1 cargo test --test it man::`", pages.len());
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

#[test]
fn pages_say_exit_status_and_environment_and_serve_lists_every_route() {
    let pages = scopectl::commands::completions::man_pages().unwrap();
    let page = |name: &str| {
        let (_, bytes) = pages.iter().find(|(n, _)| n == name).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    };
    for name in ["scopectl.1", "scopectl-install.1", "scopectl-update.1"] {
        let text = page(name);
        assert!(text.contains(".SH \"EXIT STATUS\""), "{name}");
        assert!(text.contains("130 / 143"), "{name}");
        assert!(text.contains(".SH ENVIRONMENT"), "{name}");
        assert!(text.contains("SCOPE_LOCK_TIMEOUT"), "{name}");
    }
    assert!(page("scopectl-update.1").contains("found updates"));
    let serve = page("scopectl-serve.1");
    let api = fs_err::read_to_string(support::repo().join("src/serve/api.rs")).unwrap();
    let routes: Vec<&str> = api
        .split(".route(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(routes.len() >= 15, "{routes:?}");
    for route in routes {
        assert!(
            serve.contains(&format!(" {route}\\fR")),
            "{route} is not in scopectl-serve(1)"
        );
    }
}
