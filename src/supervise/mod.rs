//! `scopectl run`: the host under supervision.
//!
//! The supervisor starts the active host (`bin/scope-host`) and keeps it
//! running: when it exits with 42 ("restart me"), when a new generation is
//! activated, on SIGHUP, on `scopectl ctl restart` and when it crashes, the
//! host that is active *now* takes over.
//!
//! For `run` (a chain over video), the supervisor owns the stream
//! (`stream`): it reads the input and writes the output itself and hands
//! the host whole frames through its stdin and takes its whole output
//! frames from shared memory (`slots`), so a restart never shows in the
//! stream. Any other host command runs as it is, restarted on 42.
//!
//! Each supervisor is an *instance* with a directory `<home>/run/<name>/`
//! (`default` unless `--name`): its pid (so that the commands that switch
//! generations send it SIGHUP, and a second `run` of the same instance is
//! refused), its control socket (`control.sock`, see [`control`]) and the
//! host's own socket.

#[cfg(target_os = "linux")]
mod by_offset;
pub mod control;
mod ends;
mod frame_pool;
pub mod gate;
mod held;
#[cfg(target_os = "linux")]
mod in_file;
mod latest;
pub mod notify;
mod pipe_io;
#[cfg(target_os = "linux")]
mod piped;
mod session;
#[cfg(target_os = "linux")]
mod slots;
mod snapshot;
mod stream;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::error::Hinted;
use crate::home::Home;
use crate::output::Verbosity;
use crate::reporter::Reporter;

/// The exit status by which a host asks to be restarted.
pub const RESTART: i32 = 42;
/// Restarts within [`QUICK`] of a start, in a row, before the supervisor gives up.
const MAX_QUICK_RESTARTS: u32 = 5;
const QUICK: Duration = Duration::from_secs(2);
const PAUSE: Duration = Duration::from_millis(200);

/// What happens to input frames while one host hands over to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnRestart {
    /// Keep them (up to a bound) and process them with the new host.
    #[default]
    Hold,
    /// Drop them.
    Drop,
    /// Write them to the output unprocessed.
    Pass,
}

/// How `scopectl run` was asked to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The instance (`--name`).
    pub name: String,
    /// `--on-restart`.
    pub on_restart: OnRestart,
    /// `--gate`: after a switch, back to the previous generation when the
    /// new one does worse.
    pub gate: Option<gate::Gate>,
    /// `-q`/`-v`: which of the plugins' log lines the host shows.
    pub verbosity: Verbosity,
    /// `--sandbox`; `None`: the policy's, else best-effort.
    pub sandbox: Option<crate::policy::Sandbox>,
    /// Debug builds only: `SCOPE_SANDBOX_UNSUPPORTED`.
    pub sandbox_unsupported: bool,
    /// systemd's notify socket and watchdog, when systemd started us.
    pub systemd: Option<notify::Systemd>,
    /// The artifact store hosts read their plugins' data files from
    /// (`SCOPE_ARTIFACTS_DIR` for them; readable under the sandbox).
    pub artifacts: Option<PathBuf>,
}

/// One supervisor's files under `<home>/run/<name>/`.
#[derive(Debug, Clone)]
pub struct Instance {
    name: String,
    dir: PathBuf,
}

impl Instance {
    /// The instance `name` of `home`; names are `[a-z0-9-]`, as pipeline ids.
    pub fn new(home: &Home, name: &str) -> Result<Instance> {
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Hinted::new(
                format!("`{name}` cannot name an instance"),
                "use up to 32 lowercase letters, digits and `-`, e.g. `--name cam1`",
            )
            .into());
        }
        Ok(Instance {
            name: name.to_owned(),
            dir: home.run_dir().join(name),
        })
    }

    /// The instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    /// Where `scopectl ctl` connects.
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    /// `<home>/run/<name>/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn host_socket(&self) -> PathBuf {
        self.dir.join("host.sock")
    }

    /// Where a host that crashes names the pipeline that crashed it.
    fn last_words(&self) -> PathBuf {
        self.dir.join("last-words")
    }

    /// The pid of the supervisor of this instance, if one is alive.
    pub fn running(&self) -> Option<u32> {
        let pid: u32 = fs_err::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        #[cfg(unix)]
        {
            let alive = rustix::process::Pid::from_raw(pid as i32)
                .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
            if !alive {
                let _ = fs_err::remove_file(self.pid_file());
                return None;
            }
        }
        Some(pid)
    }
}

/// Runs the host until it exits for good.
pub fn supervise(
    home: &Home,
    options: &RunOptions,
    args: &[OsString],
    reporter: &dyn Reporter,
) -> Result<ExitCode> {
    let instance = Instance::new(home, &options.name)?;
    if let Some(pid) = instance.running() {
        return Err(Hinted::new(
            format!(
                "instance `{}` of this home is already running under `scopectl run` (pid {pid})",
                instance.name
            ),
            "stop it first, or run another instance: `scopectl run --name NAME …`",
        )
        .into());
    }
    create_private_dir(&instance.dir)?;
    crate::fsx::write_run_state(
        &instance.pid_file(),
        std::process::id().to_string().as_bytes(),
    )?;
    let signals = Signals::install()?;
    let result = match scope_host::cli::parse(args.to_vec()) {
        Ok(scope_host::cli::Command::Run(mut run)) => {
            run.quiet |= options.verbosity <= Verbosity::Quiet;
            run.verbose |= options.verbosity >= Verbosity::Verbose;
            stream::supervise(home, &instance, options, *run, &signals, reporter)
        }
        _ => restart_loop(home, args, options.artifacts.as_deref(), &signals, reporter),
    };
    for file in [
        instance.pid_file(),
        instance.control_socket(),
        instance.host_socket(),
    ] {
        let _ = fs_err::remove_file(file);
    }
    result
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))?;
    fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    Ok(())
}

/// The active host, or an error saying that nothing is installed.
fn active_host(home: &Home) -> Result<PathBuf> {
    let host = home.host_path();
    // The generation's own file: the link may move while this one runs.
    fs_err::canonicalize(&host).map_err(|_| {
        Hinted::new(
            format!("no host in {}: nothing is installed", home.root().display()),
            "install a plugin first, e.g. `scopectl install ./my-plugin`",
        )
        .into()
    })
}

/// The generation a host binary belongs to (`generations/<N>/…`).
fn generation_of(host: &Path) -> Option<u64> {
    host.ancestors()
        .skip(1)
        .find_map(|dir| dir.file_name()?.to_str()?.parse().ok())
}

/// What identifies generation `n` across machines: the digest of the
/// artifact it was imported from, else `sha256:` of its `resolved.lock`.
pub fn generation_digest(home: &Home, n: u64) -> Option<String> {
    use sha2::{Digest, Sha256};
    let info = home.generation(n).ok()?;
    let imported = info
        .recorded
        .iter()
        .flatten()
        .find_map(|change| match change {
            crate::change::Change::Imported { digest, .. } => Some(digest.clone()),
            _ => None,
        });
    imported.or_else(|| {
        let lock = fs_err::read(home.generation_dir(n).join("resolved.lock")).ok()?;
        Some(format!(
            "sha256:{}",
            scope_registry_client::registry::hex(&Sha256::digest(lock))
        ))
    })
}

/// What the supervisor was told by signals.
#[derive(Default)]
pub(crate) struct Signals {
    /// SIGINT and SIGTERM received so far.
    stops: AtomicUsize,
    /// The first of them.
    first_stop: AtomicU32,
    /// The last of them, set in the signal handler itself: the thread that
    /// counts them may run only after the stream ended for another reason
    /// (SIGTERM, then the input closed at once: the run said 0).
    raised: Arc<AtomicUsize>,
    /// SIGHUP: take up the active generation.
    restart: AtomicBool,
    /// A host to forward signals to (restart loop only).
    child: std::sync::Mutex<Forwarding>,
}

/// The host signals go to, and a signal that came while there was none.
#[derive(Default)]
struct Forwarding {
    pid: u32,
    pending: Option<i32>,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Result<Arc<Signals>> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let signals = Arc::new(Signals::default());
        let mut iterator = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        for stop in [SIGINT, SIGTERM] {
            signal_hook::flag::register_usize(stop, signals.raised.clone(), stop as usize)?;
        }
        let shared = signals.clone();
        std::thread::spawn(move || {
            for signal in iterator.forever() {
                if signal == SIGHUP {
                    shared.restart.store(true, Ordering::SeqCst);
                } else {
                    let _ = shared.first_stop.compare_exchange(
                        0,
                        signal as u32,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                    shared.stops.fetch_add(1, Ordering::SeqCst);
                }
                shared.forward(signal);
            }
        });
        Ok(signals)
    }

    #[cfg(not(unix))]
    fn install() -> Result<Arc<Signals>> {
        Ok(Arc::new(Signals::default()))
    }

    #[cfg(unix)]
    /// Passes `signal` on to the host, or keeps it for the next one: a
    /// signal that lands between a host's start and [`Signals::set_child`]
    /// must not be lost (a SIGTERM then left the host running).
    fn forward(&self, signal: i32) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if child.pid == 0 {
            child.pending.get_or_insert(signal);
        } else {
            send(child.pid, signal);
        }
    }

    /// The host signals go to from now on (0: none); one that came while
    /// there was none goes to it now.
    fn set_child(&self, pid: u32) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child.pid = pid;
        if let Some(signal) = child.pending.take().filter(|_| pid != 0) {
            send(pid, signal);
        }
    }

    /// 128 + the first stop signal, if one came.
    fn stop_status(&self) -> Option<u8> {
        let signal = match self.first_stop.load(Ordering::SeqCst) {
            0 => self.raised.load(Ordering::SeqCst) as u32,
            first => first,
        };
        (signal != 0).then(|| 128u8.saturating_add(signal as u8))
    }
}

/// Sends a host SIGINT for SIGINT and SIGTERM for anything else (SIGTERM,
/// and SIGHUP, after which the restart loop starts it again).
#[cfg(unix)]
fn send(pid: u32, signal: i32) {
    use rustix::process::{kill_process, Pid, Signal};
    let forward = match signal {
        signal_hook::consts::SIGINT => Signal::INT,
        _ => Signal::TERM,
    };
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = kill_process(pid, forward);
    }
}

#[cfg(not(unix))]
fn send(_pid: u32, _signal: i32) {}

/// Any host command other than `run`: started again when it exits with 42
/// or a new generation is activated; signals are forwarded.
fn restart_loop(
    home: &Home,
    args: &[OsString],
    artifacts: Option<&Path>,
    signals: &Signals,
    reporter: &dyn Reporter,
) -> Result<ExitCode> {
    let mut guard = CrashGuard::default();
    loop {
        let host = active_host(home)?;
        let started = Instant::now();
        let mut command = Command::new(&host);
        if let Some(store) = artifacts {
            command.env("SCOPE_ARTIFACTS_DIR", store);
        }
        let mut child = command
            .args(args)
            .spawn()
            .with_context(|| format!("cannot start `{}`", host.display()))?;
        signals.set_child(child.id());
        let status = child.wait()?;
        signals.set_child(0);
        let requested = signals.restart.swap(false, Ordering::SeqCst);
        if signals.stop_status().is_some() || !(requested || status.code() == Some(RESTART)) {
            return Ok(exit_code(status));
        }
        if !requested {
            guard.check(started, "asked to be restarted", None)?;
        }
        let generation = generation_of(&active_host(home)?)
            .map(|n| format!(" (generation {n})"))
            .unwrap_or_default();
        reporter.status("Restarting", &format!("the host{generation}"));
        std::thread::sleep(PAUSE);
    }
}

/// Stops a host that keeps ending right after it starts.
#[derive(Default)]
struct CrashGuard {
    quick: u32,
}

impl CrashGuard {
    /// Counts an end of a host started at `started`; an error once too
    /// many came in a row, each within [`QUICK`] of its start, saying how
    /// far the stream got (`frames_out`, when the supervisor sees them).
    fn check(&mut self, started: Instant, what: &str, frames_out: Option<u64>) -> Result<()> {
        if started.elapsed() >= QUICK {
            self.quick = 0;
            return Ok(());
        }
        self.quick += 1;
        if self.quick >= MAX_QUICK_RESTARTS {
            let reached = frames_out.map_or_else(String::new, |n| {
                format!(
                    " with {n} frames out: frame {} (counting from 1) never came out, and no frame after it",
                    n + 1
                )
            });
            return Err(Hinted::new(
                format!(
                    "the host {what} {} times in a row, each within {} s of starting; stopping{reached}",
                    self.quick,
                    QUICK.as_secs()
                ),
                "run it directly (`bin/scope-host …` in the home) to see why",
            )
            .into());
        }
        Ok(())
    }
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return ExitCode::from(128u8.saturating_add(signal as u8));
    }
    ExitCode::from(status.code().map_or(1, |c| c as u8))
}

/// Tells every supervised host of this home that a new generation is active.
pub fn notify(home: &Home, reporter: &dyn Reporter) {
    let Ok(entries) = fs_err::read_dir(home.run_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(instance) = Instance::new(home, &name) else {
            continue;
        };
        #[cfg(unix)]
        if let Some(pid) = instance.running() {
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
        let _ = (instance, reporter);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn sleeper() -> std::process::Child {
        Command::new("sleep").arg("30").spawn().unwrap()
    }

    #[test]
    fn a_signal_that_came_before_the_host_is_passed_on_once_it_is_there() {
        let signals = Signals::default();
        signals.forward(signal_hook::consts::SIGTERM);
        let mut host = sleeper();
        signals.set_child(host.id());
        assert_eq!(
            host.wait().unwrap().signal(),
            Some(signal_hook::consts::SIGTERM)
        );

        // Once passed on (or once that host ended), it is not sent again.
        signals.set_child(0);
        let mut next = sleeper();
        signals.set_child(next.id());
        std::thread::sleep(Duration::from_millis(100));
        assert!(next.try_wait().unwrap().is_none(), "the next host runs on");
        signals.forward(signal_hook::consts::SIGINT);
        assert_eq!(
            next.wait().unwrap().signal(),
            Some(signal_hook::consts::SIGINT)
        );
    }
}
