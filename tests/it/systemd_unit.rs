//! The README's systemd unit, as users copy it: its `ExecStart` shell must
//! fail when the supervisor in the middle of the pipe is killed (else
//! `Restart=on-failure` never fires), it waits for the network it names,
//! and it puts cargo on PATH for the builds a server runs.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{output, stderr, TestContext};

/// The `[Service]` unit of the README, as lines.
fn unit() -> Vec<String> {
    let readme = fs_err::read_to_string(support::repo().join("README.md")).unwrap();
    let start = readme
        .find("```ini\n[Unit]")
        .expect("the README has a unit");
    let end = start + readme[start..].find("\n```\n").unwrap();
    readme[start..end].lines().map(str::to_owned).collect()
}

/// The interpreter and its options in front of `-c '…'`.
fn exec_start_shell(unit: &[String]) -> Vec<String> {
    let line = unit
        .iter()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let (shell, _) = line.split_once(" -c ").expect("a shell with -c");
    shell.split_whitespace().map(str::to_owned).collect()
}

/// Runs `producer | scopectl run … | consumer` in `shell`, kills the
/// supervisor mid-stream, and returns the pipeline's exit code.
fn killed_supervisor_status(context: &TestContext, shell: &[String]) -> Option<i32> {
    let video = context.temp.path().join("in.y4m");
    support::testsrc(&video, "64x48", 20);
    let pipeline =
        "cat | scopectl run -- run --input - --pipeline invert --output - | wc -c > /dev/null";
    let bin = context.temp.path().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let link = bin.join("scopectl");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_scopectl"), &link).unwrap();
    }
    let mut command = Command::new(&shell[0]);
    command.args(&shell[1..]).args(["-c", pipeline]);
    support::scrub(&mut command, context.temp.path());
    #[allow(clippy::disallowed_methods)] // the test's own PATH, extended
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    command
        .env("PATH", path)
        .env("SCOPE_HOME", context.home())
        .stdin(Stdio::piped());
    let pid_file = context.home().join("run/default/pid");
    // A supervisor killed by the previous run left its pid behind.
    let _ = fs_err::remove_file(&pid_file);
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The stream's header and some frames, and the producer stays open.
    stdin.write_all(&fs_err::read(&video).unwrap()[..]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = loop {
        if let Some(pid) = fs_err::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the supervisor did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the pipeline did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_units_shell_fails_when_the_supervisor_is_killed() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let installed = output(
        context
            .scopectl()
            .arg("install")
            .arg(support::repo().join("fixtures/plugins/invert")),
    );
    assert!(installed.status.success(), "{}", stderr(&installed));
    let unit = unit();
    let shell = exec_start_shell(&unit);
    let status = killed_supervisor_status(&context, &shell);
    assert!(
        status.is_some_and(|code| code != 0),
        "`{}` ended with {status:?}: systemd would see success and not restart",
        shell.join(" ")
    );
    // The same pipe in a plain `sh -c` hides the failure: this is what the
    // shell options are for.
    let plain = killed_supervisor_status(&context, &["/bin/sh".to_owned()]);
    assert_eq!(plain, Some(0), "sh reports the last command's status");
}

#[test]
fn the_unit_waits_for_the_network_it_names_and_has_cargo_on_path() {
    let unit = unit();
    let has = |line: &str| unit.iter().any(|l| l == line);
    assert!(has("After=network-online.target"));
    assert!(
        has("Wants=network-online.target"),
        "After= alone does not pull the target in"
    );
    assert!(
        unit.iter()
            .any(|l| l.starts_with("Environment=PATH=") && l.contains("/.cargo/bin")),
        "API installs need cargo on PATH"
    );
    assert!(unit
        .iter()
        .any(|l| l.starts_with("Environment=SCOPE_HOME=")));
    assert!(has("Restart=on-failure"));
}

#[test]
fn systemd_hears_ready_status_watchdog_and_stopping() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let installed = output(
        context
            .scopectl()
            .arg("install")
            .arg(support::repo().join("fixtures/plugins/invert")),
    );
    assert!(installed.status.success(), "{}", stderr(&installed));
    // systemd's side: a datagram socket the supervisor writes to.
    let path = context.temp.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Read as systemd does, while the stream runs, until STOPPING=1.
    let listener = std::thread::spawn(move || {
        let mut heard = Vec::new();
        let mut buffer = [0u8; 256];
        while let Ok(n) = socket.recv(&mut buffer) {
            heard.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            if heard.last().is_some_and(|m| m == "STOPPING=1") {
                break;
            }
        }
        heard
    });
    let run = output(
        context
            .scopectl()
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "200000")
            .args(["run", "--", "run", "--input", "testsrc", "--frames", "40"])
            .args(["--fps", "20", "--pipeline", "invert", "--output", "-"]),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let heard = listener.join().unwrap();
    let first = |what: &str| heard.iter().position(|m| m.starts_with(what));
    let ready = first("READY=1").unwrap_or_else(|| panic!("no READY=1: {heard:?}"));
    assert!(first("WATCHDOG=1").is_some(), "{heard:?}");
    assert!(first("STATUS=").is_some(), "{heard:?}");
    assert_eq!(
        heard.last().map(String::as_str),
        Some("STOPPING=1"),
        "{heard:?}"
    );
    assert!(ready < heard.len() - 1, "{heard:?}");
}
