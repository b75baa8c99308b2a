//! `scopectl run`: the host under supervision.
//!
//! The supervisor starts the active host (`bin/scope-host`) with the given
//! arguments and exits with its status — except 42, which means "restart
//! me": it then starts the host that is active *now* with the same
//! arguments. SIGINT and SIGTERM are forwarded to the host.
//!
//! How a running host learns of a new generation: the supervisor writes
//! its pid to `<home>/run.pid`; every command that switches generations
//! (install, uninstall, sync, build, reload, rollback) sends it SIGHUP; the
//! supervisor stops the host with SIGTERM and starts the new one.

use std::ffi::OsString;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::home::Home;
use crate::output::error::Hinted;
use crate::reporter::Reporter;

/// The exit status by which a host asks to be restarted.
pub const RESTART: i32 = 42;
/// Restarts within [`QUICK`] of a start, in a row, before the supervisor gives up.
const MAX_QUICK_RESTARTS: u32 = 5;
const QUICK: Duration = Duration::from_secs(2);
const PAUSE: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Flags {
    child: AtomicU32,
    stop: AtomicBool,
    restart: AtomicBool,
}

/// Runs the host until it exits for good.
pub fn supervise(home: &Home, args: &[OsString], reporter: &dyn Reporter) -> Result<ExitCode> {
    if let Some(pid) = running(home) {
        return Err(Hinted::new(
            format!("a host is already running under `scopectl run` for this home (pid {pid})"),
            "stop it first, or use another home with --home",
        )
        .into());
    }
    crate::fsx::write_atomic(&home.pid_file(), std::process::id().to_string().as_bytes())?;
    let result = restart_loop(home, args, reporter);
    let _ = fs_err::remove_file(home.pid_file());
    result
}

fn restart_loop(home: &Home, args: &[OsString], reporter: &dyn Reporter) -> Result<ExitCode> {
    let flags = Arc::new(Flags::default());
    forward_signals(flags.clone())?;
    let mut quick_restarts = 0;
    loop {
        let host = home.host_path();
        if !host.exists() {
            return Err(Hinted::new(
                format!("no host in {}: nothing is installed", home.root().display()),
                "install a plugin first, e.g. `scopectl install ./my-plugin`",
            )
            .into());
        }
        let started = Instant::now();
        let mut child = Command::new(&host)
            .args(args)
            .spawn()
            .with_context(|| format!("cannot start `{}`", host.display()))?;
        flags.child.store(child.id(), Ordering::SeqCst);
        let status = child.wait()?;
        flags.child.store(0, Ordering::SeqCst);
        let requested = flags.restart.swap(false, Ordering::SeqCst);
        if flags.stop.load(Ordering::SeqCst) || !(requested || status.code() == Some(RESTART)) {
            return Ok(exit_code(status));
        }
        if started.elapsed() < QUICK && !requested {
            quick_restarts += 1;
            if quick_restarts >= MAX_QUICK_RESTARTS {
                return Err(Hinted::new(
                    format!("the host asked to be restarted {quick_restarts} times in a row, each within {} s of starting; stopping", QUICK.as_secs()),
                    "run it directly (`bin/scope-host …`) to see why it keeps exiting with 42",
                )
                .into());
            }
        } else {
            quick_restarts = 0;
        }
        let generation = home
            .current()
            .map(|n| format!("generation {n}"))
            .unwrap_or_default();
        reporter.status("Restarting", &format!("the host ({generation})"));
        std::thread::sleep(PAUSE);
    }
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return ExitCode::from(128u8.saturating_add(signal as u8));
    }
    ExitCode::from(status.code().map_or(1, |c| c as u8))
}

#[cfg(unix)]
fn forward_signals(flags: Arc<Flags>) -> Result<()> {
    use rustix::process::{kill_process, Pid, Signal};
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let forward = match signal {
                SIGHUP => {
                    flags.restart.store(true, Ordering::SeqCst);
                    Signal::TERM
                }
                SIGINT => {
                    flags.stop.store(true, Ordering::SeqCst);
                    Signal::INT
                }
                _ => {
                    flags.stop.store(true, Ordering::SeqCst);
                    Signal::TERM
                }
            };
            let child = flags.child.load(Ordering::SeqCst);
            if let Some(pid) = Pid::from_raw(child as i32) {
                let _ = kill_process(pid, forward);
            }
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn forward_signals(_flags: Arc<Flags>) -> Result<()> {
    Ok(())
}

/// The pid of the supervisor running this home's host, if one is alive.
fn running(home: &Home) -> Option<u32> {
    let pid: u32 = fs_err::read_to_string(home.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    #[cfg(unix)]
    {
        let alive = rustix::process::Pid::from_raw(pid as i32)
            .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
        if !alive {
            let _ = fs_err::remove_file(home.pid_file());
            return None;
        }
    }
    Some(pid)
}

/// Tells a supervised host that a new generation is active.
pub fn notify(home: &Home, reporter: &dyn Reporter) {
    #[cfg(unix)]
    if let Some(pid) = running(home) {
        if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
            if rustix::process::kill_process(p, rustix::process::Signal::HUP).is_ok() {
                reporter.status(
                    "Restarting",
                    &format!("the host run by `scopectl run` (pid {pid})"),
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (home, reporter);
}
