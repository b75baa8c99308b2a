//! `scopectl run -- run …`: the supervisor owns the stream. It reads the
//! input (a file or stdin) and writes the output (a file or stdout) itself;
//! hosts get whole frames on their stdin and give whole frames back on
//! their stdout. A handoff is: stop feeding the old host at a frame
//! boundary, let it finish the frames it has, start the new host with the
//! stream's header and go on — so the consumer sees one header, whole frames
//! only, in order, and an output file is created once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use scope_host::cli::{Input, Output as HostOutput, RunArgs};

use super::control::{self, Live, Request};
use super::ends::Stream;
use super::session::{lock, InFlight, Session, Shared};
use super::{active_host, generation_of, CrashGuard, Instance, OnRestart, RunOptions, Signals};
use super::{exit_code, RESTART};
use crate::home::Home;
use crate::reporter::Reporter;

mod gating;

/// How long a host may take to finish its frames after its input closed.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);

/// Why a host's session ended.
enum Ending {
    /// It exited on its own.
    Exited(ExitStatus),
    /// The supervisor handed the stream to another host: its binary, why,
    /// the live parameters it gets, and how the old host exited.
    HandOff(PathBuf, String, Vec<String>, ExitStatus),
    /// A stop signal: the input is closed and the host drained.
    Stopped(ExitStatus),
}

pub fn supervise(
    home: &Home,
    instance: &Instance,
    options: &RunOptions,
    run: RunArgs,
    signals: &Signals,
    reporter: &dyn Reporter,
) -> Result<ExitCode> {
    let stream = Stream::open(&run)?;
    let live = Arc::new(Live::new(
        instance,
        &run,
        stream.output.as_ref().map(|(o, _)| o.clone()),
        stream.feed.as_ref().map(|f| f.read.clone()),
    ));
    crate::metrics::global().watch(live.clone());
    let requests = control::serve(instance, live.clone())?;
    let notifying = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let notifier = options
        .systemd
        .clone()
        .map(|systemd| systemd.watch(live.clone(), notifying.clone()));
    let mut supervisor = Supervisor {
        home,
        instance,
        options,
        run,
        signals,
        reporter,
        stream,
        live,
        requests,
        in_flight: Arc::new(Mutex::new(Default::default())),
        sets: Vec::new(),
        dropped: 0,
        passed: 0,
        handoff: None,
        refused: None,
        sandbox_warned: Default::default(),
        gate: gating::GateState::default(),
    };
    if let Some(gate) = &options.gate {
        supervisor
            .live
            .gate(|status| status.gate = gate.to_string());
    }
    let result = supervisor.run();
    notifying.store(true, Ordering::SeqCst);
    if let Some(notifier) = notifier {
        let _ = notifier.join();
    }
    supervisor.summarize();
    result
}

struct Supervisor<'a> {
    home: &'a Home,
    instance: &'a Instance,
    options: &'a RunOptions,
    run: RunArgs,
    signals: &'a Signals,
    reporter: &'a dyn Reporter,
    stream: Stream,
    live: Arc<Live>,
    requests: Receiver<Request>,
    in_flight: InFlight,
    /// Parameters changed live: every new host gets them.
    sets: Vec<String>,
    dropped: u64,
    passed: u64,
    /// When the running handoff was decided, and why.
    handoff: Option<(Instant, String)>,
    /// A host that failed its self-check or its start: not tried again
    /// until asked.
    refused: Option<PathBuf>,
    /// Said once that hosts run without a sandbox.
    sandbox_warned: std::sync::atomic::AtomicBool,
    /// The health gate's bookkeeping (`--gate`).
    gate: gating::GateState,
}

impl Supervisor<'_> {
    fn run(&mut self) -> Result<ExitCode> {
        let mut binary = active_host(self.home)?;
        let mut fallback: Option<PathBuf> = None;
        let mut guard = CrashGuard::default();
        let mut replay = Vec::new();
        let mut sets_before: Option<Vec<String>> = None;
        loop {
            let session = self.start(&binary, std::mem::take(&mut replay))?;
            let (ending, session) = self.watch(session)?;
            let started = session.started;
            let generation = generation_of(&session.binary);
            let collected = session.finish();
            self.live.host_ended(collected.frames);
            if let Some(error) = &collected.error {
                self.reporter
                    .warn(&format!("the host of {}: {error}", describe(generation)));
            }
            // A host that put out frames has proved itself: no going back past it.
            if collected.frames > 0 {
                fallback = None;
                sets_before = None;
            }
            let ending = match ending {
                // A new host that failed before its first frame while being
                // handed over to (a SIGHUP as it started): it failed, and
                // the stream goes back, below.
                Ending::HandOff(.., status)
                    if fallback.is_some() && collected.frames == 0 && !status.success() =>
                {
                    Ending::Exited(status)
                }
                ending => ending,
            };
            match ending {
                Ending::Stopped(status) => {
                    return Ok(self
                        .signals
                        .stop_status()
                        .map_or_else(|| exit_code(status), ExitCode::from));
                }
                Ending::HandOff(next, why, sets, _) => {
                    self.gate.previous = generation;
                    self.reporter.status(
                        "Handing over",
                        &format!(
                            "from {} after {} frames ({why})",
                            describe(generation),
                            collected.frames
                        ),
                    );
                    fallback = Some(binary);
                    sets_before = Some(std::mem::replace(&mut self.sets, sets));
                    binary = next;
                    replay = self.between_hosts();
                }
                Ending::Exited(status) => {
                    if let Some(stopped) = self.signals.stop_status() {
                        // The host ended as the stop came (the input ended too).
                        return Ok(ExitCode::from(stopped));
                    }
                    let requested = status.code() == Some(RESTART);
                    if crashed(status) {
                        crate::metrics::global().crashes.inc();
                    }
                    let what = if requested {
                        "asked to be restarted".to_owned()
                    } else if crashed(status) {
                        // The host names the pipeline whose thread crashed.
                        match fs_err::read_to_string(self.instance.last_words()) {
                            Ok(words) if !words.trim().is_empty() => {
                                format!("crashed in {}", words.trim())
                            }
                            _ => "crashed".to_owned(),
                        }
                    } else {
                        "failed".to_owned()
                    };
                    // A new host that fails before its first frame: back to
                    // the one that worked, with the parameters it had.
                    if collected.frames == 0 && !requested && !status.success() {
                        if let Some(previous) = fallback.take() {
                            let message = format!(
                                "the host of {} {what} before its first frame ({}); going back to {}",
                                describe(generation),
                                describe_status(status),
                                describe(generation_of(&previous))
                            );
                            self.reporter.warn(&message);
                            self.live.answer_restarts(Err(message));
                            if let Some(sets) = sets_before.take() {
                                self.sets = sets;
                            }
                            // Not tried again until asked (SIGHUP, `ctl restart`).
                            self.refused = Some(std::mem::replace(&mut binary, previous));
                            replay = self.between_hosts();
                            continue;
                        }
                    }
                    if !requested && !crashed(status) {
                        // Done (the input ended, `--frames`), or failed for a
                        // reason a restart does not fix.
                        return Ok(self.done(status));
                    }
                    let frames_out = self.stream.output.as_ref().map(|_| self.live.frames_out());
                    guard.check(started, &what, frames_out)?;
                    self.reporter.status(
                        "Restarting",
                        &format!(
                            "the host of {} ({what}: {})",
                            describe(generation),
                            describe_status(status)
                        ),
                    );
                    binary = active_host(self.home).unwrap_or(binary);
                    self.begin_handoff(what);
                    replay = self.between_hosts();
                }
            }
        }
    }

    /// The arguments of the next host: the user's, with the stream's ends
    /// on stdin and stdout, the control socket, and the live changes.
    fn host_args(&self) -> Vec<OsString> {
        let mut run = self.run.clone();
        if self.stream.feed.is_some() {
            run.input = Some(Input::Stdin);
            run.frames = None;
        }
        if self.stream.output.is_some() {
            run.output = HostOutput::Stdout;
        }
        if let Some(limit) = self.stream.limit {
            let done = self
                .stream
                .output
                .as_ref()
                .map_or(0, |(o, _)| o.frames.load(Ordering::Relaxed));
            run.frames = Some(limit.saturating_sub(done));
        }
        run.sets.extend(self.sets.iter().cloned());
        run.control = Some(self.instance.host_socket().into_os_string());
        run.to_args()
    }

    /// Sandboxes the host `binary` to what its generation's plugins were
    /// granted (`[allow]` in its plugins.toml), as `--sandbox` or the
    /// policy say; best-effort says once when the kernel cannot.
    fn sandbox(&self, command: &mut Command, binary: &Path) -> Result<()> {
        use crate::sandbox::host::{sandbox_host, HostPaths};
        let generation_dir = binary.parent().unwrap_or(binary);
        let plugins_toml = generation_dir.join("plugins.toml");
        let by_plugin: std::collections::BTreeMap<String, Vec<String>> =
            match fs_err::read_to_string(&plugins_toml) {
                Ok(text) => scope_lockfile::PluginsToml::parse(&plugins_toml, &text)?
                    .grants()
                    .iter()
                    .map(|(name, caps)| (name.to_string(), caps.clone()))
                    .collect(),
                Err(_) => Default::default(),
            };
        let grants: Vec<crate::capability::Capability> = by_plugin
            .values()
            .flatten()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()?;
        let mode = match self.options.sandbox {
            Some(mode) => mode,
            None => crate::policy::Policy::find(self.home.root(), None)?
                .map_or(crate::policy::Sandbox::BestEffort, |p| p.sandbox.value),
        };
        let mut read = vec![self.home.root().to_path_buf()];
        // The plugins' data files: read-only, without a grant.
        read.extend(
            self.options
                .artifacts
                .iter()
                .filter(|d| d.exists())
                .cloned(),
        );
        let mut write = vec![self.instance.dir().to_path_buf()];
        if let Some(Input::Path(path)) = &self.run.input {
            read.push(PathBuf::from(path));
        }
        if let HostOutput::Path(path) = &self.run.output {
            write.push(PathBuf::from(path));
        }
        let binary = fs_err::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
        let enforced = sandbox_host(
            command,
            &grants,
            HostPaths {
                binary,
                read,
                write,
            },
            mode,
            self.options.sandbox_unsupported,
        )?;
        let said = match &enforced {
            crate::sandbox::Enforced::Landlock => "landlock".to_owned(),
            crate::sandbox::Enforced::EnvironmentOnly(why) => format!("none: {why}"),
            crate::sandbox::Enforced::Off => "off".to_owned(),
        };
        if let crate::sandbox::Enforced::EnvironmentOnly(why) = enforced {
            if !self.sandbox_warned.swap(true, Ordering::SeqCst) {
                self.reporter
                    .warn(&format!("the host runs without a sandbox ({why})"));
            }
        }
        self.live.host_sandboxed(control::SandboxStatus {
            enforced: said,
            grants: by_plugin,
        });
        Ok(())
    }

    fn start(&mut self, binary: &Path, replay: Vec<Shared>) -> Result<Session> {
        // A SIGHUP asks for the active generation: starting it answers every
        // one that came so far (`rollback` signals just after switching, and
        // the poll may have seen the switch first; left set, it made the
        // supervisor start the same host twice).
        if active_host(self.home).is_ok_and(|active| active == binary) {
            self.signals.restart.store(false, Ordering::SeqCst);
        }
        let mut command = Command::new(binary);
        command.args(self.host_args());
        if let Some(store) = &self.options.artifacts {
            command.env("SCOPE_ARTIFACTS_DIR", store);
        }
        self.sandbox(&mut command, binary)?;
        let session = Session::start(
            command,
            self.stream.feed.as_ref(),
            replay,
            &self.in_flight,
            self.stream.output.as_ref().map(|(o, f)| (o, f.clone())),
            &self.instance.last_words(),
        )?;
        let generation = generation_of(binary);
        let digest = generation.and_then(|n| super::generation_digest(self.home, n));
        self.live
            .host_started(session.child.id(), generation, digest);
        if self.stream.output.is_none() && self.handoff.take().is_some() {
            // No output to see a first frame in: the handoff ends here.
            self.live.set_handing_over(false);
        }
        Ok(session)
    }

    /// Runs a session until its host exits, a handoff or a stop.
    fn watch(&mut self, mut session: Session) -> Result<(Ending, Session)> {
        let mut last_check = Instant::now();
        let mut stopping = false;
        let mut restart_sets: Option<Vec<String>> = None;
        let mut handing_to: Option<(PathBuf, String)> = None;
        let mut drain_deadline: Option<Instant> = None;
        let frames_at_start = self.live.frames_out();
        loop {
            if let Some(status) = session.child.try_wait()? {
                let ending = match (stopping, handing_to) {
                    (true, _) => Ending::Stopped(status),
                    (false, Some((next, why))) => {
                        let mut sets = self.sets.clone();
                        sets.extend(restart_sets.unwrap_or_default());
                        Ending::HandOff(next, why, sets, status)
                    }
                    (false, None) => Ending::Exited(status),
                };
                return Ok((ending, session));
            }
            let stops = self.signals.stops.load(Ordering::SeqCst);
            if stops >= 2 {
                // At once: the collector writes whole frames only.
                let _ = session.child.kill();
            } else if stops == 1 && !stopping {
                stopping = true;
                self.stream.stop_input.store(true, Ordering::SeqCst);
                self.begin_drain(&mut session);
                drain_deadline = Some(Instant::now() + DRAIN_LIMIT);
            }
            if !stopping && handing_to.is_none() {
                let mut why = None;
                if self.signals.restart.swap(false, Ordering::SeqCst) {
                    why = Some("SIGHUP or a new generation".to_owned());
                } else if last_check.elapsed() > Duration::from_millis(250) {
                    last_check = Instant::now();
                    self.check_gate(&session);
                    let active = active_host(self.home).ok();
                    if active
                        .as_ref()
                        .is_some_and(|b| *b != session.binary && Some(b) != self.refused.as_ref())
                    {
                        why = Some("a new generation".to_owned());
                    }
                }
                while let Ok(request) = self.requests.try_recv() {
                    match request {
                        Request::Restart { sets, done } => {
                            restart_sets = Some(sets);
                            why = Some("`scopectl ctl restart`".into());
                            self.live.await_restart(done);
                        }
                        Request::Set { sets, done } => {
                            let answer = control::ask_host(&self.instance.host_socket(), &sets);
                            if answer.is_ok() {
                                self.sets.extend(sets);
                            }
                            let _ = done.send(answer);
                        }
                    }
                }
                if let Some(why) = why {
                    let next = active_host(self.home).unwrap_or(session.binary.clone());
                    match self_check(&next) {
                        Ok(()) => {
                            self.begin_handoff(why.clone());
                            handing_to = Some((next, why));
                            self.begin_drain(&mut session);
                            drain_deadline = Some(Instant::now() + DRAIN_LIMIT);
                        }
                        Err(e) => {
                            self.reporter.warn(&format!(
                                "not switching to {}: {e}; the stream stays on {}",
                                describe(generation_of(&next)),
                                describe(generation_of(&session.binary))
                            ));
                            self.live.answer_restarts(Err(e));
                            self.refused = Some(next);
                        }
                    }
                }
            }
            // A restart is answered once the new host put out a frame (or
            // ran a second without failing, for hosts that write nothing).
            // The gap ends with the first frame of a host started after the decision.
            let new_host = self
                .handoff
                .as_ref()
                .is_some_and(|(at, _)| session.started > *at);
            if new_host && frames_at_start != self.live.frames_out() {
                if let Some((at, why)) = self.handoff.take() {
                    self.live.set_handing_over(false);
                    let gap = at.elapsed();
                    self.live.record_gap(gap);
                    let metrics = crate::metrics::global();
                    metrics.handoffs.inc();
                    metrics.handoff_gap.observe(gap.as_secs_f64());
                    self.start_gate(generation_of(&session.binary));
                    self.reporter.status(
                        "Handed over",
                        &format!(
                            "the stream to {} ({why}): {} ms from the decision to its first frame",
                            describe(generation_of(&session.binary)),
                            gap.as_millis()
                        ),
                    );
                }
            }
            if handing_to.is_none()
                && (frames_at_start != self.live.frames_out()
                    || session.started.elapsed() > Duration::from_secs(1))
            {
                self.live.answer_restarts(Ok(()));
            }
            if drain_deadline.is_some_and(|d| Instant::now() > d) {
                self.reporter.warn(&format!(
                    "the host did not finish its frames within {} s; stopping it",
                    DRAIN_LIMIT.as_secs()
                ));
                let _ = session.child.kill();
                drain_deadline = None;
            }
            session.pause(POLL);
        }
    }

    /// Asks the host to finish: its input closes at a frame boundary (or,
    /// when it makes its own frames, SIGTERM does that).
    fn begin_drain(&self, session: &mut Session) {
        session.hand_off.store(true, Ordering::SeqCst);
        if self.stream.feed.is_none() {
            #[cfg(unix)]
            if let Some(pid) = rustix::process::Pid::from_raw(session.child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
    }

    /// Between two hosts: the frames the old one swallowed, and what
    /// `--on-restart` does with the input that came meanwhile.
    fn between_hosts(&mut self) -> Vec<Shared> {
        let swallowed: Vec<Shared> = lock(&self.in_flight).drain(..).collect();
        let Some(feed) = &self.stream.feed else {
            return Vec::new();
        };
        let mut on_restart = self.options.on_restart;
        let same_format = self.stream.output.as_ref().is_some_and(|(o, _)| {
            lock(&o.header)
                .as_ref()
                .is_some_and(|h| h.same_frames(&feed.framing))
        });
        if on_restart == OnRestart::Pass && !same_format {
            self.reporter.warn("`--on-restart pass` needs the output in the input's format; holding the frames instead");
            on_restart = OnRestart::Hold;
        }
        let waiting: Vec<Shared> = {
            let frames = lock(&feed.frames);
            std::iter::from_fn(|| frames.try_recv().ok()).collect()
        };
        match on_restart {
            OnRestart::Hold => swallowed.into_iter().chain(waiting).collect(),
            OnRestart::Drop => {
                let lost = (swallowed.len() + waiting.len()) as u64;
                self.dropped += lost;
                self.live.add_lost(lost);
                Vec::new()
            }
            OnRestart::Pass => {
                if let Some((output, _)) = &self.stream.output {
                    for frame in swallowed.iter().chain(&waiting) {
                        if output.write(frame).is_ok() {
                            self.passed += 1;
                        }
                    }
                }
                Vec::new()
            }
        }
    }

    /// From the decision to hand over to the new host's first frame, the
    /// stream is "restarting" (`/health` says so).
    fn begin_handoff(&mut self, why: String) {
        self.gate.baseline = self.gate.rate.fps();
        self.gate.rate.clear();
        self.handoff = Some((Instant::now(), why));
        self.live.set_handing_over(true);
    }

    /// The exit status of a stream whose host exited for good: the host's,
    /// but not success when the input could not be read to its end (the
    /// host saw a clean end; the bare host would have failed).
    fn done(&self, status: ExitStatus) -> ExitCode {
        let unreadable = self
            .stream
            .feed
            .as_ref()
            .is_some_and(|feed| feed.unreadable.load(Ordering::SeqCst));
        if unreadable && status.success() {
            return ExitCode::FAILURE;
        }
        exit_code(status)
    }

    fn summarize(&self) {
        let summary = self.live.summary(self.dropped, self.passed);
        self.reporter.status("Stream", &summary);
    }
}

fn crashed(status: ExitStatus) -> bool {
    #[cfg(unix)]
    if std::os::unix::process::ExitStatusExt::signal(&status).is_some() {
        return true;
    }
    // 101: a panic outside the plugins' guard.
    status.code() == Some(101)
}

fn describe(generation: Option<u64>) -> String {
    generation.map_or_else(|| "the host".into(), |n| format!("generation {n}"))
}

fn describe_status(status: ExitStatus) -> String {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return format!("killed by signal {signal}");
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "no exit status".into(),
    }
}

/// Runs `host self-check`: a host that fails it is not switched to.
fn self_check(host: &Path) -> std::result::Result<(), String> {
    let output = Command::new(host)
        .arg("self-check")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", host.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let why = match text.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => line.trim().to_owned(),
        None => describe_status(output.status),
    };
    Err(format!(
        "its self-check failed ({why}); `scopectl doctor` checks the home"
    ))
}
