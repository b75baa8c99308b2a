//! Cancelling: SIGTERM or SIGINT to scopectl's pid (as CI runners and
//! systemd send them), at each point of an install, ends it at once with
//! 143 / 130, stops every child of the build, and leaves the home as it was;
//! a signal during the commit lets the commit finish; Ctrl-C to the group
//! says "interrupted".

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, kill_process_group, Pid, Signal};
use scope_test_support::{FixtureRegistry, Package};
use support::{output, stderr, TestContext};

/// A home with the `invert` example installed (generation 1).
fn installed_home(context: &TestContext) {
    let out = output(
        context
            .scopectl()
            .arg("install")
            .arg(support::repo().join("fixtures/plugins/invert")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `scopectl ARGS` started with its stderr read line by line on a thread.
struct Running {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Running {
    fn start(mut command: Command) -> Running {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("scopectl starts");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Running {
            child,
            lines,
            seen: String::new(),
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32).unwrap()
    }

    /// Waits (at most 120 s) for a stderr line containing `text`.
    fn wait_for_line(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen += &(line + "\n"),
                Err(_) => panic!("no `{text}` on stderr; it said:\n{}", self.seen),
            }
        }
    }

    /// Waits for the process to end (at most 10 s); returns its code and
    /// everything it said.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("scopectl did not end after the signal:\n{}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen += &(line + "\n");
        }
        (status.code(), self.seen)
    }
}

/// Waits until a process of this test whose command line has `text` runs.
fn wait_for_process(context: &TestContext, text: &str, running: &Running) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !support::processes_of(context)
        .iter()
        .any(|p| p.contains(text))
    {
        assert!(
            Instant::now() < deadline,
            "no `{text}` process; scopectl said:\n{}",
            running.seen
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The checks after a cancel: the exit code, the message, no process of
/// the build 2 s later, the home unchanged and not locked, no staging left.
fn assert_cancelled(
    context: &TestContext,
    running: Running,
    before: &support::HomeState,
    code: i32,
) -> String {
    let (status, said) = running.finish();
    assert_eq!(status, Some(code), "{said}");
    assert!(said.contains("interrupted; nothing was changed"), "{said}");
    // What the contract says: 2 s after, no process of the build is left.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        support::processes_of(context),
        Vec::<String>::new(),
        "{said}"
    );
    let home = context.home();
    assert_eq!(
        support::HomeState::of(&home),
        *before,
        "the home changed:\n{said}"
    );
    let generations: Vec<String> = fs_err::read_dir(home.join("generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(generations, ["1"], "{said}");
    // The lock is free: a mutating command does not wait.
    let gc = output(context.scopectl().arg("gc").env("SCOPE_LOCK_TIMEOUT", "1"));
    assert!(gc.status.success(), "{}", stderr(&gc));
    assert!(!stderr(&gc).contains("Blocking"), "{}", stderr(&gc));
    said
}

fn signal(running: &Running, signal: Signal) {
    kill_process(running.pid(), signal).unwrap();
}

#[test]
fn a_signal_after_resolving_and_during_cargo_changes_nothing_and_stops_the_build() {
    let context = TestContext::new();
    installed_home(&context);
    let before = support::HomeState::of(&context.home());

    // Resolved, about to fetch and build: SIGTERM.
    let quick = support::invert_copy(context.temp.path(), "quick-fx", "", None);
    let mut install = context.scopectl();
    install
        .arg("install")
        .arg(&quick)
        .env("SCOPE_FAILPOINT", "pause:after-resolve");
    let mut running = Running::start(install);
    running.wait_for_line("failpoint after-resolve: pausing");
    signal(&running, Signal::TERM);
    assert_cancelled(&context, running, &before, 143);

    // cargo running a build script that would take a minute: SIGINT to
    // scopectl's pid alone.
    let (slow, marker) = support::slow_build_plugin(context.temp.path(), "slow-build");
    let mut install = context.scopectl();
    install.arg("install").arg(&slow);
    let mut running = Running::start(install);
    running.wait_for_line("Building");
    support::wait_for_file(&marker);
    signal(&running, Signal::INT);
    assert_cancelled(&context, running, &before, 130);
}

#[test]
fn a_signal_while_downloading_or_probing_changes_nothing() {
    let context = TestContext::new();
    installed_home(&context);
    let before = support::HomeState::of(&context.home());

    // A host whose plugin hangs in its registration: the probe never ends.
    let hanging = support::invert_copy(
        context.temp.path(),
        "hang-fx",
        "pub fn hang() { std::thread::sleep(std::time::Duration::from_secs(60)); }",
        None,
    );
    let lib = hanging.join("src/lib.rs");
    let text = fs_err::read_to_string(&lib).unwrap().replace(
        "pub fn register_pipelines(registry: &mut Registry) {",
        "pub fn register_pipelines(registry: &mut Registry) {\n    hang();",
    );
    fs_err::write(&lib, text).unwrap();
    let mut install = context.scopectl();
    install.arg("install").arg(&hanging);
    let mut running = Running::start(install);
    running.wait_for_line("Building");
    wait_for_process(&context, "self-check", &running);
    signal(&running, Signal::TERM);
    assert_cancelled(&context, running, &before, 143);

    // A registry that stalls in the middle of every body.
    let server = FixtureRegistry::start();
    Package::new("glow", "1.0.0").api("^0.1").publish(&server);
    let plugins_toml = fs_err::read_to_string(context.home().join("plugins.toml")).unwrap();
    let with_registry = format!(
        "{plugins_toml}\n[registries.fixture]\nindex = \"{}\"\n",
        server.index_url()
    );
    fs_err::write(context.home().join("plugins.toml"), &with_registry).unwrap();
    let before = support::HomeState::of(&context.home());
    server.switches(|s| s.stall_body = Some(Duration::from_secs(60)));
    let mut install = context.scopectl();
    install.args(["install", "glow", "--registry", "fixture"]);
    let running = Running::start(install);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.requests().is_empty() {
        assert!(Instant::now() < deadline, "no request reached the registry");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    signal(&running, Signal::TERM);
    assert_cancelled(&context, running, &before, 143);
}

#[test]
fn a_signal_during_the_commit_lets_it_finish_and_names_the_generation() {
    let context = TestContext::new();
    installed_home(&context);
    let quick = support::invert_copy(context.temp.path(), "commit-fx", "", None);
    let mut install = context.scopectl();
    install
        .arg("install")
        .arg(&quick)
        .env("SCOPE_FAILPOINT", "pause:before-switch");
    let mut running = Running::start(install);
    running.wait_for_line("failpoint before-switch: pausing");
    signal(&running, Signal::TERM);
    // The pause outlasts the signal; the commit then completes.
    let (status, said) = running.finish();
    assert_eq!(status, Some(143), "{said}");
    assert!(
        said.contains("interrupted; generation 2 had begun to commit and is now active"),
        "{said}"
    );
    let current = fs_err::read_link(context.home().join("current")).unwrap();
    assert_eq!(current, Path::new("generations/2"));
    let lock = fs_err::read_to_string(context.home().join("resolved.lock")).unwrap();
    assert!(lock.contains("commit-fx"), "{lock}");
}

#[test]
fn ctrl_c_to_the_whole_group_during_a_build_says_interrupted() {
    let context = TestContext::new();
    installed_home(&context);
    let before = support::HomeState::of(&context.home());
    let (slow, marker) = support::slow_build_plugin(context.temp.path(), "group-fx");
    let mut install = context.scopectl();
    install.arg("install").arg(&slow);
    // As a terminal does: scopectl leads a foreground group of its own.
    std::os::unix::process::CommandExt::process_group(&mut install, 0);
    let running = Running::start(install);
    support::wait_for_file(&marker);
    kill_process_group(running.pid(), Signal::INT).unwrap();
    let said = assert_cancelled(&context, running, &before, 130);
    assert!(!said.contains("could not compile"), "{said}");
}
