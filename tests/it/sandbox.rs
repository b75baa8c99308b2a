//! The build sandbox: a hostile build script reads no secret and reaches
//! no network; `--sandbox required` refuses where Landlock is missing.

use crate::support;
use support::snapshot::scopectl_snapshot;

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use support::{output, repo, stderr, TestContext};

/// The hostile plugin, copied to `dir`, told to call `port`.
fn hostile_plugin(dir: &Path, port: u16) -> PathBuf {
    let source = repo().join("fixtures/test-plugins/hostile-build");
    for file in ["Cargo.toml", "build.rs", "src/lib.rs"] {
        let to = dir.join(file);
        fs_err::create_dir_all(to.parent().unwrap()).unwrap();
        fs_err::copy(source.join(file), to).unwrap();
    }
    fs_err::write(dir.join("port.txt"), port.to_string()).unwrap();
    dir.to_path_buf()
}

/// What the build script of the plugin in `plugin_dir` wrote: the
/// `stolen.txt` of the newest `hostile-build-*/out` in the shared target.
fn stolen() -> Vec<String> {
    let build = scope_test_support::shared_target_dir(&repo()).join("debug/build");
    fs_err::read_dir(build)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("hostile-build-")
        })
        .filter_map(|e| fs_err::read_to_string(e.path().join("out/stolen.txt")).ok())
        .collect()
}

#[test]
fn a_hostile_build_script_reads_no_secret_and_reaches_no_network() {
    let context = TestContext::new();
    let secret = format!("ssh-secret-{}", fastrand::u64(..));
    let token = format!("token-secret-{}", fastrand::u64(..));
    // `HOME` of the commands the tests run is the scratch directory.
    let ssh = context.temp.path().join(".ssh");
    fs_err::create_dir_all(&ssh).unwrap();
    fs_err::write(ssh.join("id_test"), &secret).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let plugin = hostile_plugin(&context.temp.path().join("hostile"), port);

    let out = output(
        context
            .scopectl()
            .env("DEPLOY_TOKEN", &token)
            .arg("install")
            .arg(&plugin),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        listener.accept().is_err(),
        "the build script reached the listener"
    );
    let host = fs_err::read(context.home().join("bin/scope-host")).unwrap();
    let host = String::from_utf8_lossy(&host);
    assert!(
        host.contains("key refused"),
        "the script's findings are in the host"
    );
    assert!(!host.contains(&secret) && !host.contains(&token));
    let all = stolen();
    assert!(all.iter().any(|s| s.contains("connect refused")), "{all:?}");
    assert!(all
        .iter()
        .all(|s| !s.contains(&secret) && !s.contains(&token)));

    // Without the sandbox the same script gets both and calls home: the
    // checks above can fail.
    let unsandboxed = context.temp.path().join("b");
    let plugin = hostile_plugin(&context.temp.path().join("hostile-2"), port);
    let out = output(
        support::registry::elsewhere(&context, &unsandboxed)
            .env_remove("CARGO")
            .env("DEPLOY_TOKEN", &token)
            .args(["--sandbox", "off", "install"])
            .arg(&plugin),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The install has finished: its connection is waiting, or never came.
    let (mut stream, _) = listener.accept().expect("the unsandboxed script called");
    stream.set_nonblocking(false).unwrap();
    let mut said = String::new();
    stream.read_to_string(&mut said).unwrap();
    assert!(said.contains(&secret) && said.contains(&token), "{said}");
}

#[test]
fn a_required_sandbox_is_refused_where_landlock_is_missing() {
    let context = TestContext::new();
    let invert = repo().join("fixtures/plugins/invert");
    let refused = output(
        context
            .scopectl()
            .env("SCOPE_SANDBOX_UNSUPPORTED", "1")
            .args(["--sandbox", "required", "install"])
            .arg(&invert),
    );
    scopectl_snapshot!(&context, "required_without_landlock", &refused);
    assert!(!context.home().join("current").exists());
    // Best-effort says so, and builds.
    let built = output(
        context
            .scopectl()
            .env("SCOPE_SANDBOX_UNSUPPORTED", "1")
            .arg("install")
            .arg(&invert),
    );
    assert!(built.status.success(), "{}", stderr(&built));
    assert!(
        stderr(&built).contains("warning: building without Landlock"),
        "{}",
        stderr(&built)
    );
}

/// The phone-home plugin, copied to `dir`, declaring `capabilities`.
fn phone_home(dir: &Path, capabilities: &[String]) -> PathBuf {
    let source = repo().join("fixtures/test-plugins/phone-home");
    fs_err::create_dir_all(dir.join("src")).unwrap();
    fs_err::copy(source.join("src/lib.rs"), dir.join("src/lib.rs")).unwrap();
    let manifest = fs_err::read_to_string(source.join("Cargo.toml")).unwrap();
    let declared = format!("capabilities = {capabilities:?}");
    fs_err::write(
        dir.join("Cargo.toml"),
        manifest.replace("capabilities = []", &declared),
    )
    .unwrap();
    dir.to_path_buf()
}

#[test]
fn a_plugin_reaches_only_what_it_was_granted() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let secret = context.temp.path().join("secret.txt");
    let value = format!("secret-{}", fastrand::u64(..));
    fs_err::write(&secret, &value).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let run = || {
        output(
            context
                .scopectl()
                .env("SCOPE_TEST_SECRET", &secret)
                .env("SCOPE_TEST_PORT", port.to_string())
                .args(["run", "--", "run", "--input", "testsrc", "--frames", "10"])
                .args(["--pipeline", "phone-home", "--output", "null"]),
        )
    };

    // Nothing declared, nothing granted: both attempts fail inside the
    // plugin, and the frames still flow.
    let plugin = phone_home(&context.temp.path().join("ungranted"), &[]);
    let installed = output(context.scopectl().arg("install").arg(&plugin));
    assert!(installed.status.success(), "{}", stderr(&installed));
    let denied = run();
    assert!(denied.status.success(), "{}", stderr(&denied));
    let said = stderr(&denied);
    assert!(
        said.contains("reading the secret failed: Permission denied"),
        "{said}"
    );
    assert!(
        said.contains("connecting failed: Permission denied"),
        "{said}"
    );
    assert!(said.contains("10 frames"), "{said}");
    assert!(
        listener.accept().is_err(),
        "the plugin reached the listener"
    );

    // Declared and granted: both work.
    let wanted = [
        format!("fs:read={}", secret.display()),
        format!("net:connect={port}"),
    ];
    let plugin = phone_home(&context.temp.path().join("granted"), &wanted);
    let mut install = context.scopectl();
    install.arg("install").arg(&plugin);
    for capability in &wanted {
        install.args(["--allow", capability]);
    }
    let installed = output(&mut install);
    assert!(installed.status.success(), "{}", stderr(&installed));
    let allowed = run();
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    let said = stderr(&allowed);
    assert!(
        said.contains("read the secret") && said.contains("connected"),
        "{said}"
    );
    let (mut stream, _) = listener.accept().expect("the granted plugin connected");
    stream.set_nonblocking(false).unwrap();
    let mut got = String::new();
    stream.read_to_string(&mut got).unwrap();
    assert_eq!(got, format!("hello {value}"));
}

#[test]
fn doctor_says_what_the_kernel_enforces() {
    let context = TestContext::new();
    support::open_home(&context);
    let doctor = |extra: &[&str]| {
        let mut command = context.scopectl();
        command.args(extra).arg("doctor");
        output(&mut command)
    };
    let here = stdout_of(&doctor(&[]));
    assert!(
        here.contains("sandbox: enforced (Landlock ABI"),
        "this machine's kernel has Landlock with TCP rules: {here}"
    );
    let mut missing = context.scopectl();
    missing
        .env("SCOPE_SANDBOX_UNSUPPORTED", "1")
        .args(["--sandbox", "required", "doctor"]);
    let missing = output(&mut missing);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stdout_of(&missing)
            .contains("problem  sandbox: required, and this kernel cannot enforce it"),
        "{}",
        stdout_of(&missing)
    );
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn scopectl_test_runs_the_plugins_tests_in_the_build_sandbox() {
    let context = TestContext::new();
    let plugin = support::new_plugin(&context, "nosy-fx");
    let ssh = context.temp.path().join(".ssh");
    fs_err::create_dir_all(&ssh).unwrap();
    fs_err::write(ssh.join("id_test"), "secret").unwrap();
    // A test that passes only when it cannot read the key in `HOME`.
    let lib = plugin.join("src/lib.rs");
    let source = fs_err::read_to_string(&lib).unwrap();
    fs_err::write(
        &lib,
        format!(
            "{source}\n#[test]\nfn the_key_is_out_of_reach() {{\n    let home = std::env::var(\"HOME\").unwrap();\n    assert!(std::fs::read(format!(\"{{home}}/.ssh/id_test\")).is_err());\n}}\n"
        ),
    )
    .unwrap();
    let test = |sandbox: &str| {
        output(
            context
                .scopectl()
                .args(["--sandbox", sandbox, "test", "--", "-q"])
                .current_dir(&plugin),
        )
    };
    let sandboxed = test("best-effort");
    assert!(sandboxed.status.success(), "{}", stderr(&sandboxed));
    let open = test("off");
    assert_eq!(open.status.code(), Some(101), "{}", stderr(&open));
}

/// A plugin that takes a crate by `path` from outside its directory builds
/// under the sandbox: the build may read that crate (and only because the
/// plugin names it).
#[test]
fn a_plugin_taking_a_crate_by_path_builds_in_the_sandbox() {
    let context = TestContext::new();
    let dir = context.temp.path();
    let helper = dir.join("shared/helper");
    fs_err::create_dir_all(helper.join("src")).unwrap();
    fs_err::write(
        helper.join("Cargo.toml"),
        "[package]\nname = \"helper\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    fs_err::write(helper.join("src/lib.rs"), "pub const LEVEL: u8 = 3;\n").unwrap();
    let plugin = support::new_plugin(&context, "path-user");
    let manifest = plugin.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replacen(
            "[dependencies]\n",
            "[dependencies]\nhelper = { path = \"../shared/helper\" }\n",
            1,
        ),
    )
    .unwrap();
    let lib = plugin.join("src/lib.rs");
    let source = fs_err::read_to_string(&lib).unwrap();
    fs_err::write(
        &lib,
        format!("{source}\npub const LEVEL: u8 = helper::LEVEL;\n"),
    )
    .unwrap();
    let out = output(
        context
            .scopectl()
            .args(["--sandbox", "required", "install"])
            .arg(&plugin),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}
