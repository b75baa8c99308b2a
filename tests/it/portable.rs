//! A home committed with the plugins around it syncs at any checkout path:
//! relative paths are recorded relative to `plugins.toml`, read against it
//! whatever the working directory, and the lock is the same bytes anywhere.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use support::{output, stderr, stdout, TestContext};

/// `scopectl ARGS` run in `dir`, with the home given as `--home ./scope`.
fn in_checkout(context: &TestContext, dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scopectl"));
    command
        .args(["--home", "./scope"])
        .args(args)
        .current_dir(dir);
    support::scrub(&mut command, context.temp.path());
    output(&mut command)
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "--- stdout\n{}\n--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A repository holding the `invert` example as `./my-fx`.
fn checkout_with_plugin(dir: &Path) {
    let source = support::repo().join("fixtures/plugins/invert");
    let plugin = dir.join("my-fx");
    fs_err::create_dir_all(plugin.join("src")).unwrap();
    let manifest = fs_err::read_to_string(source.join("Cargo.toml")).unwrap();
    fs_err::write(
        plugin.join("Cargo.toml"),
        format!("{manifest}\n[workspace]\n"),
    )
    .unwrap();
    fs_err::copy(source.join("src/lib.rs"), plugin.join("src/lib.rs")).unwrap();
}

/// What a commit of the checkout holds: the plugin's sources and the
/// home's two files.
fn copy_committed(from: &Path, to: &Path) {
    for file in [
        "my-fx/Cargo.toml",
        "my-fx/src/lib.rs",
        "scope/plugins.toml",
        "scope/resolved.lock",
    ] {
        fs_err::create_dir_all(to.join(file).parent().unwrap()).unwrap();
        fs_err::copy(from.join(file), to.join(file)).unwrap();
    }
}

fn read(path: &Path) -> String {
    fs_err::read_to_string(path).unwrap()
}

#[test]
fn a_committed_home_syncs_locked_and_frozen_at_another_checkout_path() {
    let context = TestContext::new();
    let first = context.temp.path().join("first-checkout");
    checkout_with_plugin(&first);
    ok(in_checkout(&context, &first, &["install", "./my-fx"]));

    let plugins_toml = read(&first.join("scope/plugins.toml"));
    let lock = read(&first.join("scope/resolved.lock"));
    assert!(
        plugins_toml.contains(r#"invert = { path = "../my-fx" }"#),
        "{plugins_toml}"
    );
    assert!(lock.contains(r#"source = "path+../my-fx""#), "{lock}");
    let machine_path = context.temp.path().to_string_lossy().into_owned();
    for text in [&plugins_toml, &lock] {
        assert!(!text.contains(&machine_path), "an absolute path:\n{text}");
    }

    // CI checks the repository out elsewhere; the original is gone.
    let second = context.temp.path().join("ci/second-checkout");
    let frozen = context.temp.path().join("air-gapped/third-checkout");
    copy_committed(&first, &second);
    copy_committed(&first, &frozen);
    fs_err::rename(&first, context.temp.path().join("moved-away")).unwrap();

    let synced = ok(in_checkout(&context, &second, &["sync", "--locked"]));
    assert!(stderr(&synced).contains("Activated"), "{}", stderr(&synced));
    assert_eq!(read(&second.join("scope/resolved.lock")), lock);
    assert_eq!(read(&second.join("scope/plugins.toml")), plugins_toml);

    ok(in_checkout(&context, &frozen, &["fetch", "--locked"]));
    ok(in_checkout(&context, &frozen, &["sync", "--frozen"]));
    assert_eq!(read(&frozen.join("scope/resolved.lock")), lock);

    // The home itself renamed, and used from another working directory:
    // its generations, `current` and `bin/` still work, and nothing rebuilds.
    let renamed = context.temp.path().join("ci/renamed");
    fs_err::rename(&second, &renamed).unwrap();
    let home = renamed.join("scope");
    let mut host = Command::new(home.join("bin/scope-host"));
    let pipelines = ok(output(host.arg("pipelines")));
    assert!(
        stdout(&pipelines).contains("invert"),
        "{}",
        stdout(&pipelines)
    );
    let mut sync = Command::new(env!("CARGO_BIN_EXE_scopectl"));
    sync.arg("--home")
        .arg(&home)
        .args(["sync", "--locked"])
        .current_dir(context.temp.path());
    support::scrub(&mut sync, context.temp.path());
    let again = ok(output(&mut sync));
    assert!(stderr(&again).contains("Fresh"), "{}", stderr(&again));
    assert_eq!(read(&home.join("resolved.lock")), lock);
    let doctor = ok(in_checkout(&context, &renamed, &["doctor"]));
    assert!(!stdout(&doctor).contains("gone"), "{}", stdout(&doctor));
}

#[test]
fn an_absolute_path_stays_absolute_and_a_relative_one_is_read_against_plugins_toml() {
    let context = TestContext::new();
    let checkout = context.temp.path().join("checkout");
    checkout_with_plugin(&checkout);
    let plugin = fs_err::canonicalize(checkout.join("my-fx")).unwrap();

    // As `cargo add --path /abs`: recorded as given.
    ok(in_checkout(
        &context,
        &checkout,
        &["install", "--no-build", plugin.to_str().unwrap()],
    ));
    let plugins_toml = read(&checkout.join("scope/plugins.toml"));
    assert!(
        plugins_toml.contains(&format!(r#"path = "{}""#, plugin.display())),
        "{plugins_toml}"
    );
    let lock = read(&checkout.join("scope/resolved.lock"));
    assert!(
        lock.contains(&format!(r#"source = "path+{}""#, plugin.display())),
        "{lock}"
    );

    // A hand-written relative path, used from a directory where it would
    // name nothing: read against plugins.toml's directory.
    fs_err::write(
        checkout.join("scope/plugins.toml"),
        "[plugins]\nscope-invert = { path = \"./../my-fx\" }\n",
    )
    .unwrap();
    let elsewhere = context.temp.path().join("elsewhere");
    fs_err::create_dir_all(&elsewhere).unwrap();
    let mut record = Command::new(env!("CARGO_BIN_EXE_scopectl"));
    record
        .arg("--home")
        .arg(checkout.join("scope"))
        .args(["install", "--no-build", "../checkout/my-fx"])
        .current_dir(&elsewhere);
    support::scrub(&mut record, context.temp.path());
    ok(output(&mut record));
    let lock = read(&checkout.join("scope/resolved.lock"));
    assert!(lock.contains(r#"source = "path+../my-fx""#), "{lock}");
    assert!(
        read(&checkout.join("scope/plugins.toml")).contains(r#"path = "../my-fx""#),
        "typed relative to the working directory, recorded relative to plugins.toml"
    );
}
