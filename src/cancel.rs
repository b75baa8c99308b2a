//! Cancelling: what SIGINT, SIGTERM and SIGHUP do to a command.
//!
//! A CI job that is cancelled, `systemctl stop` or `kill` signal scopectl's
//! pid alone; Ctrl-C signals the terminal's whole process group. Either way
//! the outcome must be a clean, fast "nothing changed". So:
//!
//! - every child scopectl waits for (cargo, the host it probes) starts in a
//!   process group of its own through [`spawn`], [`output`] or [`status`],
//!   and a signal to scopectl is forwarded to each of those groups — cargo's
//!   rustc and build-script processes included — escalating to SIGKILL if
//!   they are not gone within [`GRACE`] (or at a second signal);
//! - then scopectl exits at once with 128 + the signal, saying
//!   `interrupted; nothing was changed`. Everything before a commit is
//!   disposable or crash-safe (the home's lock is released by the kernel,
//!   downloads land in the cache only once verified), so stopping there is
//!   exactly what `kill -9` would leave, minus the orphans;
//! - a commit (a journaled change of the home) is never cut short: a signal
//!   that lands during [`committing`] waits for it, and the message then
//!   names what was committed.
//!
//! Commands that own a stream (`run`, `serve`) handle signals themselves
//! and do not [`install`] this; `serve` cancels a job in flight with
//! [`cancel_children`] when it stops.

use std::io;
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long children get to stop after the signal is forwarded, before
/// SIGKILL (the contract is "gone within 2 s").
pub const GRACE: Duration = Duration::from_millis(1500);

#[derive(Default)]
struct State {
    /// The process groups of running children (each led by the child).
    groups: Vec<i32>,
    /// A commit is under way.
    committing: bool,
    /// A signal that arrived during the commit.
    pending: Option<i32>,
}

/// Set by [`cancel_children`]: no child starts and no commit begins.
static CANCELLED: AtomicBool = AtomicBool::new(false);

static STATE: Mutex<State> = Mutex::new(State {
    groups: Vec::new(),
    committing: false,
    pending: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    // A panic elsewhere must not stop a cancel.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes over SIGINT, SIGTERM and SIGHUP for the rest of the process.
#[cfg(unix)]
pub fn install() -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("cancel".into())
        .spawn(move || {
            for signal in signals.forever() {
                let mut state = state();
                if state.committing {
                    state.pending.get_or_insert(signal);
                    continue;
                }
                stop_children(&state.groups, signal, || signals.pending().next().is_some());
                // Holding the state: no child starts and no commit begins.
                exit(signal, "nothing was changed");
            }
        })?;
    Ok(())
}

#[cfg(not(unix))]
pub fn install() -> io::Result<()> {
    Ok(())
}

/// Stops the children of the work in flight in this process (`serve`
/// stopping with a job running): `signal` to each child's group, SIGKILL
/// after [`GRACE`]; from now on no child starts and no commit begins, so
/// the work fails with [`interrupted`] unless its commit had begun.
pub fn cancel_children(signal: i32) {
    CANCELLED.store(true, Ordering::SeqCst);
    let groups = state().groups.clone();
    stop_children(&groups, signal, || false);
}

/// Whether [`cancel_children`] ran.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// The error of work stopped by [`cancel_children`].
pub fn interrupted() -> anyhow::Error {
    anyhow::anyhow!("interrupted; nothing was changed")
}

/// Runs `commit` to its end even if a signal arrives meanwhile; such a
/// signal then ends the process, naming what `committed` says was done.
pub fn committing<T>(
    commit: impl FnOnce() -> anyhow::Result<T>,
    committed: impl FnOnce(&T) -> String,
) -> anyhow::Result<T> {
    {
        let mut state = state();
        if cancelled() {
            return Err(interrupted());
        }
        state.committing = true;
    }
    let result = commit();
    let mut state = state();
    state.committing = false;
    if let Some(signal) = state.pending.take() {
        match &result {
            Ok(done) => exit(signal, &committed(done)),
            Err(_) => exit(signal, "nothing was changed"),
        }
    }
    result
}

/// Spawns `command` as the leader of a new process group that a signal to
/// scopectl is forwarded to. The group is forgotten when the child is
/// waited for through [`Waited`].
pub fn spawn(command: &mut Command) -> io::Result<Child> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let mut state = state();
    if cancelled() {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
    }
    let child = command.spawn()?;
    state.groups.push(child.id() as i32);
    Ok(child)
}

/// A child's group, forgotten once the child has been waited for.
pub trait Waited {
    /// Waits for the child and forgets its group.
    fn wait_and_forget(&mut self) -> io::Result<ExitStatus>;
}

impl Waited for Child {
    fn wait_and_forget(&mut self) -> io::Result<ExitStatus> {
        let status = self.wait();
        forget(self.id());
        status
    }
}

fn forget(pid: u32) {
    state().groups.retain(|&g| g != pid as i32);
}

/// [`Command::output`], in a group of its own.
pub fn output(command: &mut Command) -> io::Result<Output> {
    command.stdin(std::process::Stdio::null());
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = spawn(command)?;
    let pid = child.id();
    let out = child.wait_with_output();
    forget(pid);
    out
}

/// [`Command::status`], in a group of its own.
pub fn status(command: &mut Command) -> io::Result<ExitStatus> {
    spawn(command)?.wait_and_forget()
}

/// Forwards `signal` to every group, then SIGKILL to those still there
/// after [`GRACE`] or as soon as `again` says a second signal came.
#[cfg(unix)]
fn stop_children(groups: &[i32], signal: i32, mut again: impl FnMut() -> bool) {
    use rustix::process::{kill_process_group, Pid, Signal};
    let groups: Vec<Pid> = groups.iter().filter_map(|&g| Pid::from_raw(g)).collect();
    let forwarded = Signal::from_named_raw(signal).unwrap_or(Signal::TERM);
    for &group in &groups {
        let _ = kill_process_group(group, forwarded);
    }
    let alive = |groups: &[Pid]| groups.iter().any(|&g| group_alive(g));
    let deadline = Instant::now() + GRACE;
    while alive(&groups) && Instant::now() < deadline && !again() {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &group in &groups {
        let _ = kill_process_group(group, Signal::KILL);
    }
    // SIGKILL is not refused; give the kernel a moment to reap the group.
    let reaped = Instant::now() + Duration::from_millis(300);
    while alive(&groups) && Instant::now() < reaped {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a process of the group still runs. Zombies do not count: the
/// children of a killed cargo are reparented, and a container's init may
/// never reap them.
#[cfg(target_os = "linux")]
fn group_alive(group: rustix::process::Pid) -> bool {
    let Ok(processes) = fs_err::read_dir("/proc") else {
        return rustix::process::test_kill_process_group(group).is_ok();
    };
    let group = group.as_raw_nonzero().get().to_string();
    processes.flatten().any(|entry| {
        let Ok(stat) = fs_err::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // `pid (comm) STATE PPID PGRP …`; comm may hold spaces and parentheses.
        let mut fields = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .split_whitespace();
        let (state, _, pgrp) = (fields.next(), fields.next(), fields.next());
        pgrp == Some(group.as_str()) && state != Some("Z")
    })
}

#[cfg(all(unix, not(target_os = "linux")))]
fn group_alive(group: rustix::process::Pid) -> bool {
    rustix::process::test_kill_process_group(group).is_ok()
}

#[cfg(not(unix))]
fn stop_children(_: &[i32], _: i32, _: impl FnMut() -> bool) {}

/// Ends the process as a cancelled command: the message, then 128 + signal.
fn exit(signal: i32, what: &str) -> ! {
    crate::output::error::report(&anyhow::anyhow!("interrupted; {what}"), false);
    std::process::exit(128 + signal)
}

/// [`cargo_metadata::MetadataCommand::exec`], in a group of its own.
pub fn metadata(
    command: &cargo_metadata::MetadataCommand,
) -> Result<cargo_metadata::Metadata, cargo_metadata::Error> {
    let out = output(&mut command.cargo_command())?;
    if !out.status.success() {
        return Err(cargo_metadata::Error::CargoMetadata {
            stderr: String::from_utf8(out.stderr)?,
        });
    }
    let json = std::str::from_utf8(&out.stdout)?
        .lines()
        .find(|line| line.starts_with('{'))
        .ok_or(cargo_metadata::Error::NoJson)?;
    cargo_metadata::MetadataCommand::parse(json)
}
