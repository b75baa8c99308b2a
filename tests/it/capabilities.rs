//! Capabilities: what a plugin declares is shown and refused until
//! granted; grants are recorded in plugins.toml; an update that asks for
//! more is refused, naming the new capability, until granted.

use crate::support;
use support::snapshot::scopectl_snapshot;

use support::{output, stderr, HomeState, TestContext};

fn plugins_toml(context: &TestContext) -> String {
    fs_err::read_to_string(context.home().join("plugins.toml")).unwrap()
}

#[test]
fn an_update_that_asks_for_more_is_refused_until_granted() {
    let context = TestContext::new();
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    upstream.commit("first");
    let installed = output(context.scopectl().args(["install", &upstream.url()]));
    assert!(installed.status.success(), "{}", stderr(&installed));

    // Upstream starts asking for the network.
    let manifest = fs_err::read_to_string(upstream.dir().join("Cargo.toml")).unwrap();
    let manifest = manifest.replace(
        "[workspace]",
        "[package.metadata.scope]\ncapabilities = [\"net:connect=443\", \"fs:read=/var/lib/models\"]\n\n[workspace]",
    );
    upstream.write("Cargo.toml", &manifest);
    upstream.commit("phone home");
    let before = HomeState::of(&context.home());
    let refused = output(context.scopectl().args(["update", "scope-invert"]));
    scopectl_snapshot!(&context, "an_update_asking_for_more", &refused);
    assert_eq!(HomeState::of(&context.home()), before, "nothing changed");

    // One of the two granted is not enough.
    let half = output(context.scopectl().args([
        "update",
        "scope-invert",
        "--allow",
        "fs:read=/var/lib/models",
    ]));
    assert_eq!(half.status.code(), Some(1), "{}", stderr(&half));
    assert!(
        stderr(&half).contains("asks for net:connect=443"),
        "{}",
        stderr(&half)
    );
    assert_eq!(HomeState::of(&context.home()), before);

    let granted = output(context.scopectl().args([
        "update",
        "scope-invert",
        "--allow",
        "net:connect",
        "--allow",
        "fs:read=/var/lib",
    ]));
    assert!(granted.status.success(), "{}", stderr(&granted));
    assert!(
        plugins_toml(&context).contains(
            "[allow]\nscope-invert = [\"net:connect=443\", \"fs:read=/var/lib/models\"]\n"
        ),
        "{}",
        plugins_toml(&context)
    );
    // Recorded: a rebuild needs no flag.
    let rebuilt = output(context.scopectl().args(["build", "--force"]));
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    let why = output(context.scopectl().args(["why", "scope-invert"]));
    assert!(
        support::stdout(&why).contains("  allowed: net:connect=443, fs:read=/var/lib/models\n"),
        "{}",
        support::stdout(&why)
    );
    let list = output(context.scopectl().args(["list", "--json"]));
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        list["plugins"][0]["allow"],
        serde_json::json!(["net:connect=443", "fs:read=/var/lib/models"]),
        "{list}"
    );
}

#[test]
fn an_unknown_capability_is_refused_with_the_vocabulary() {
    let context = TestContext::new();
    let out = output(context.scopectl().args(["sync", "--allow", "disk:all"]));
    scopectl_snapshot!(&context, "an_unknown_capability", &out);
}

/// Runs `command` on a pseudo-terminal, answering `answer` to each
/// question that ends in `[y/N] `; returns what it printed and its status.
fn on_a_terminal(command: &std::process::Command, answer: &str) -> (String, i32) {
    const DRIVER: &str = r#"
import os, pty, sys
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
said = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    said += chunk
    if said.rstrip().endswith(b"[y/N]"):
        os.write(fd, answer.encode() + b"\n")
        said += b"\n"
_, status = os.waitpid(pid, 0)
sys.stdout.write(said.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut driver = std::process::Command::new("python3");
    driver
        .args(["-c", DRIVER, answer])
        .arg(command.get_program());
    driver.args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => driver.env(key, value),
            None => driver.env_remove(key),
        };
    }
    let out = driver.output().expect("python3");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn on_a_terminal_each_capability_is_asked_for() {
    let context = TestContext::new();
    let upstream = support::invert_repo(&context.temp.path().join("upstream"));
    let manifest = fs_err::read_to_string(upstream.dir().join("Cargo.toml")).unwrap();
    upstream.write(
        "Cargo.toml",
        &manifest.replace(
            "[workspace]",
            "[package.metadata.scope]\ncapabilities = [\"gpu\"]\n\n[workspace]",
        ),
    );
    upstream.commit("wants the gpu");
    let mut install = context.scopectl();
    install.args(["install", &upstream.url()]);
    let (said, status) = on_a_terminal(&install, "n");
    assert_eq!(status, 1, "{said}");
    assert!(
        said.contains("scope-invert v0.2.0 asks for gpu. Allow it? [y/N]"),
        "{said}"
    );
    assert!(!context.home().join("current").exists());
    let (said, status) = on_a_terminal(&install, "y");
    assert_eq!(status, 0, "{said}");
    assert!(
        plugins_toml(&context).contains("[allow]\nscope-invert = [\"gpu\"]\n"),
        "{}",
        plugins_toml(&context)
    );
}
