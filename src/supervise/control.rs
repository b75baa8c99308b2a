//! The control socket of a running `scopectl run` (`<home>/run/<name>/control.sock`,
//! owner-only): newline-delimited JSON, one request and one answer per line.
//!
//! ```text
//! {"command":"status"}                      -> {"ok":true,"status":{…}}
//! {"command":"set","params":["K=V",…]}      -> {"ok":true} | {"ok":false,"error":"…"}
//! {"command":"restart","params":["K=V",…]}  -> {"ok":true} once the new host runs
//! {"command":"snapshot"}                    -> {"ok":true,"bytes":N,…}, then N bytes of PNG
//! ```
//!
//! `set` is checked and applied by the host between two frames; the
//! supervisor remembers it, so that every later host gets it too.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use scope_host::cli::RunArgs;
use serde::{Deserialize, Serialize};

use super::session::{lock, Output};
use super::{snapshot, Instance};
use crate::error::Hinted;

/// A request on the control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Command {
    Status,
    Set {
        #[serde(default)]
        params: Vec<String>,
    },
    Restart {
        #[serde(default)]
        params: Vec<String>,
    },
    Snapshot,
}

/// What `ctl status` reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamStatus {
    pub version: u32,
    pub name: String,
    pub supervisor_pid: u32,
    pub host_pid: Option<u32>,
    pub generation: Option<u64>,
    pub uptime_s: f64,
    pub host_uptime_s: f64,
    pub restarts: u64,
    pub chain: Vec<String>,
    /// Frames written to the output, over every host.
    pub frames_out: u64,
    /// Frames each host put out, oldest first (the running one last).
    pub frames_by_host: Vec<HostFrames>,
    /// Handoff gaps so far: from the decision to switch to the first frame
    /// out of the new host.
    pub gaps_ms: Vec<u64>,
    /// Parameters changed live (`ctl set`), in order.
    pub params_set: Vec<String>,
    /// Between the decision to hand over and the new host's first frame.
    pub handing_over: bool,
    /// The running host's own report: frames in and out, each stage's
    /// frames, recent fps and current runtime parameters.
    pub host: Option<serde_json::Value>,
    /// How the running host is sandboxed, and what its plugins may do.
    #[serde(default)]
    pub sandbox: Option<SandboxStatus>,
    /// The health gate (`--gate`), when there is one.
    #[serde(default)]
    pub gate: Option<GateStatus>,
}

/// The health gate's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GateStatus {
    /// As given: `10s:lost=0,unloaded=0`.
    pub gate: String,
    /// The generation under watch now, if any.
    pub watching: Option<u64>,
    /// Verdicts so far, oldest first: passed or rolled back.
    pub events: Vec<GateEvent>,
}

/// One gate's verdict on a generation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateEvent {
    /// RFC 3339.
    pub at: String,
    pub generation: u64,
    /// `passed` or `rolled_back`.
    pub outcome: String,
    /// The rule that failed and what was measured.
    pub reason: Option<String>,
    /// Where the stream went back to.
    pub to: Option<u64>,
}

/// The running host's sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxStatus {
    /// `landlock` (Landlock and seccomp), `none: WHY` (best-effort on a
    /// kernel that cannot) or `off`.
    pub enforced: String,
    /// The capabilities granted to the host's plugins, by plugin.
    pub grants: std::collections::BTreeMap<String, Vec<String>>,
}

/// Frames one host put out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFrames {
    pub generation: Option<u64>,
    pub frames: u64,
}

impl std::fmt::Display for HostFrames {
    /// `120 by generation 3`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.generation {
            Some(n) => write!(f, "{} by generation {n}", self.frames),
            None => write!(f, "{}", self.frames),
        }
    }
}

/// `205 by generation 1, 2 by generation 2`: the frames of consecutive
/// hosts of one generation (restarts of the same host) counted together.
pub fn by_generation(hosts: &[HostFrames]) -> String {
    let mut merged: Vec<HostFrames> = Vec::new();
    for host in hosts {
        match merged.last_mut() {
            Some(last) if last.generation == host.generation => last.frames += host.frames,
            _ => merged.push(host.clone()),
        }
    }
    merged
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the supervisor's loop must do for a control request.
pub enum Request {
    Set {
        sets: Vec<String>,
        done: Sender<std::result::Result<(), String>>,
    },
    Restart {
        sets: Vec<String>,
        done: Sender<std::result::Result<(), String>>,
    },
}

/// The stream's figures for metrics and the health gate.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames the supervisor dropped between hosts (`--on-restart drop`).
    pub frames_lost: u64,
    /// The running host's stages (none when it did not answer).
    pub stages: Vec<StageFigures>,
    /// Frames per second out of the running host, recently.
    pub fps: f64,
    pub generation: Option<u64>,
    /// The running generation's digest (see [`super::generation_digest`]).
    pub digest: Option<String>,
}

/// One stage of the running host.
#[derive(Debug, Clone, Default)]
pub struct StageFigures {
    /// How the stage is addressed (`invert`, `invert#2`).
    pub name: String,
    pub pipeline: String,
    pub frames: u64,
    /// Frames passed on unprocessed since its plugin failed: not zero
    /// means the stage is unloaded.
    pub passed: u64,
    pub busy_s: f64,
}

/// The supervisor's state that the control socket reports.
pub struct Live {
    name: String,
    /// Frames read from the input (none: the host makes its own).
    frames_in: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Frames dropped between hosts.
    frames_lost: std::sync::atomic::AtomicU64,
    chain: Vec<String>,
    started: Instant,
    host_socket: std::path::PathBuf,
    output: Option<Arc<Output>>,
    state: Mutex<State>,
    restarts_waiting: Mutex<Vec<Sender<std::result::Result<(), String>>>>,
}

#[derive(Default)]
struct State {
    host_pid: Option<u32>,
    generation: Option<u64>,
    host_started: Option<Instant>,
    hosts: Vec<HostFrames>,
    gaps: Vec<Duration>,
    params_set: Vec<String>,
    handing_over: bool,
    sandbox: Option<SandboxStatus>,
    digest: Option<String>,
    gate: Option<GateStatus>,
}

impl Live {
    pub fn new(
        instance: &Instance,
        run: &RunArgs,
        output: Option<Arc<Output>>,
        frames_in: Option<Arc<std::sync::atomic::AtomicU64>>,
    ) -> Live {
        Live {
            name: instance.name().to_owned(),
            frames_in,
            frames_lost: Default::default(),
            chain: run.pipelines.clone(),
            started: Instant::now(),
            host_socket: instance.host_socket(),
            output,
            state: Mutex::new(State::default()),
            restarts_waiting: Mutex::new(Vec::new()),
        }
    }

    /// Records how the next host is sandboxed.
    pub fn host_sandboxed(&self, sandbox: SandboxStatus) {
        lock(&self.state).sandbox = Some(sandbox);
    }

    pub fn host_started(&self, pid: u32, generation: Option<u64>, digest: Option<String>) {
        let mut state = lock(&self.state);
        state.host_pid = Some(pid);
        state.generation = generation;
        state.digest = digest;
        state.host_started = Some(Instant::now());
        if !state.hosts.is_empty() {
            crate::metrics::global().restarts.inc();
        }
        state.hosts.push(HostFrames {
            generation,
            frames: 0,
        });
    }

    pub fn host_ended(&self, frames: u64) {
        let mut state = lock(&self.state);
        state.host_pid = None;
        if let Some(last) = state.hosts.last_mut() {
            last.frames = frames;
        }
    }

    pub fn set_handing_over(&self, handing_over: bool) {
        lock(&self.state).handing_over = handing_over;
    }

    pub fn record_gap(&self, gap: Duration) {
        lock(&self.state).gaps.push(gap);
    }

    pub fn record_set(&self, sets: &[String]) {
        lock(&self.state).params_set.extend(sets.iter().cloned());
    }

    /// Frames written to the output so far.
    /// Frames out so far, and whether a host is running.
    pub fn progress(&self) -> (u64, bool) {
        (self.frames_out(), lock(&self.state).host_pid.is_some())
    }

    /// Whether the supervisor writes the output (and so counts frames).
    pub fn holds_output(&self) -> bool {
        self.output.is_some()
    }

    /// Hosts started after the first.
    pub fn restarts(&self) -> u64 {
        lock(&self.state).hosts.len().saturating_sub(1) as u64
    }

    /// Updates the gate's state.
    pub fn gate(&self, update: impl FnOnce(&mut GateStatus)) {
        update(
            lock(&self.state)
                .gate
                .get_or_insert_with(GateStatus::default),
        );
    }

    /// Counts frames dropped between hosts.
    pub fn add_lost(&self, frames: u64) {
        self.frames_lost.fetch_add(frames, Ordering::Relaxed);
    }

    /// The figures of the stream and its running host (asked over its
    /// socket).
    pub fn figures(&self) -> Figures {
        let host: Option<serde_json::Value> = host_request(&self.host_socket, "status")
            .ok()
            .and_then(|line| serde_json::from_str(&line).ok());
        let stages = host
            .as_ref()
            .and_then(|h| h["stages"].as_array())
            .map(|stages| {
                stages
                    .iter()
                    .map(|s| StageFigures {
                        name: s["name"].as_str().unwrap_or_default().to_owned(),
                        pipeline: s["pipeline"].as_str().unwrap_or_default().to_owned(),
                        frames: s["frames"].as_u64().unwrap_or(0),
                        passed: s["passed"].as_u64().unwrap_or(0),
                        busy_s: s["busy_s"].as_f64().unwrap_or(0.0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let state = lock(&self.state);
        Figures {
            frames_in: self
                .frames_in
                .as_ref()
                .map_or(0, |n| n.load(Ordering::Relaxed)),
            frames_out: self.frames_out(),
            frames_lost: self.frames_lost.load(Ordering::Relaxed),
            stages,
            fps: host
                .as_ref()
                .and_then(|h| h["fps_out"].as_f64())
                .unwrap_or(0.0),
            generation: state.generation,
            digest: state.digest.clone(),
        }
    }

    pub fn frames_out(&self) -> u64 {
        self.output
            .as_ref()
            .map_or(0, |o| o.frames.load(Ordering::Relaxed))
    }

    pub fn await_restart(&self, done: Sender<std::result::Result<(), String>>) {
        lock(&self.restarts_waiting).push(done);
    }

    /// Answers every `ctl restart` waiting.
    pub fn answer_restarts(&self, answer: std::result::Result<(), String>) {
        for done in lock(&self.restarts_waiting).drain(..) {
            let _ = done.send(answer.clone());
        }
    }

    pub fn status(&self) -> StreamStatus {
        let host = host_request(&self.host_socket, "status")
            .ok()
            .and_then(|line| serde_json::from_str(&line).ok());
        let state = lock(&self.state);
        let mut frames_by_host = state.hosts.clone();
        if let (Some(_), Some(running)) = (state.host_pid, frames_by_host.last_mut()) {
            let before: u64 = state.hosts.iter().rev().skip(1).map(|h| h.frames).sum();
            running.frames = self.frames_out().saturating_sub(before);
        }
        StreamStatus {
            version: 1,
            name: self.name.clone(),
            supervisor_pid: std::process::id(),
            host_pid: state.host_pid,
            generation: state.generation,
            uptime_s: round(self.started.elapsed()),
            host_uptime_s: state.host_started.map_or(0.0, |t| round(t.elapsed())),
            restarts: state.hosts.len().saturating_sub(1) as u64,
            chain: self.chain.clone(),
            frames_out: self.frames_out(),
            frames_by_host,
            gaps_ms: state.gaps.iter().map(|g| g.as_millis() as u64).collect(),
            params_set: state.params_set.clone(),
            handing_over: state.handing_over,
            host,
            sandbox: state.sandbox.clone(),
            gate: state.gate.clone(),
        }
    }

    /// The line the supervisor prints when the stream ends.
    pub fn summary(&self, dropped: u64, passed: u64) -> String {
        let state = lock(&self.state);
        let mut text = format!(
            "{} frames out ({}) in {:.1} s",
            self.frames_out(),
            by_generation(&state.hosts),
            self.started.elapsed().as_secs_f64()
        );
        if let Some(longest) = state.gaps.iter().max() {
            text += &format!(
                "; {} handoffs, longest gap {} ms",
                state.gaps.len(),
                longest.as_millis()
            );
        }
        if dropped > 0 {
            text += &format!("; {dropped} frames dropped during handoffs");
        }
        if passed > 0 {
            text += &format!("; {passed} frames passed through unprocessed during handoffs");
        }
        text
    }
}

fn round(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// Serves the control socket; returns what the supervisor's loop must act on.
#[cfg(unix)]
pub fn serve(instance: &Instance, live: Arc<Live>) -> Result<Receiver<Request>> {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;

    let path = instance.control_socket();
    let _ = fs_err::remove_file(&path);
    let listener = UnixListener::bind(&path).with_context(|| {
        format!(
            "cannot listen on `{}` (a socket path has at most 107 bytes; a shorter --home helps)",
            path.display()
        )
    })?;
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let live = live.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = serve_connection(stream, &live, &tx);
            });
        }
    });
    Ok(rx)
}

#[cfg(not(unix))]
pub fn serve(_instance: &Instance, _live: Arc<Live>) -> Result<Receiver<Request>> {
    anyhow::bail!("the control socket needs a Unix system")
}

#[cfg(unix)]
fn serve_connection(
    stream: std::os::unix::net::UnixStream,
    live: &Live,
    requests: &Sender<Request>,
) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        let command: Command = match serde_json::from_str(&line) {
            Ok(command) => command,
            Err(e) => {
                reply_error(
                    &mut writer,
                    &format!("not a request ({e}); see `scopectl ctl --help`"),
                )?;
                continue;
            }
        };
        let answer = |sets: Vec<String>, restart: bool| {
            if let Some(bad) = sets.iter().find(|s| s.contains(['\t', '\n'])) {
                return Err(format!("`{bad}`: a value cannot hold a tab or a newline"));
            }
            let (done, wait) = channel();
            let request = if restart {
                Request::Restart { sets, done }
            } else {
                Request::Set { sets, done }
            };
            requests
                .send(request)
                .map_err(|_| "the stream is ending".to_owned())?;
            wait.recv_timeout(Duration::from_secs(60))
                .map_err(|_| "the supervisor did not answer in time".to_owned())?
        };
        match command {
            Command::Status => {
                let status = serde_json::json!({"ok": true, "status": live.status()});
                writeln!(writer, "{status}")?;
            }
            Command::Set { params } => match answer(params.clone(), false) {
                Ok(()) => {
                    live.record_set(&params);
                    writeln!(writer, "{}", serde_json::json!({"ok": true}))?;
                }
                Err(e) => reply_error(&mut writer, &e)?,
            },
            Command::Restart { params } => match answer(params, true) {
                Ok(()) => writeln!(writer, "{}", serde_json::json!({"ok": true}))?,
                Err(e) => reply_error(&mut writer, &e)?,
            },
            Command::Snapshot => {
                let latest = live.output.as_ref().and_then(|o| {
                    let framing = lock(&o.header).clone();
                    // Copied under the lock: a frame in a host's slot stays
                    // there until the next one is the latest.
                    let frame = lock(&o.latest).as_ref().map(|latest| latest.raw());
                    framing.zip(frame)
                });
                let png = latest.map(|(framing, raw)| {
                    let raw = raw.map_err(|e| format!("cannot read the latest frame: {e}"))?;
                    snapshot::png(&framing, &raw)
                });
                match png {
                    Some(Ok(png)) => {
                        let head = serde_json::json!({"ok": true, "bytes": png.len()});
                        writeln!(writer, "{head}")?;
                        writer.write_all(&png)?;
                    }
                    Some(Err(e)) => reply_error(&mut writer, &e)?,
                    None => reply_error(
                        &mut writer,
                        "no frame has been written yet (or the output is `null`)",
                    )?,
                }
            }
        }
    }
    Ok(())
}

fn reply_error(writer: &mut impl Write, message: &str) -> std::io::Result<()> {
    writeln!(
        writer,
        "{}",
        serde_json::json!({"ok": false, "error": message})
    )
}

/// Asks the running host to change runtime parameters. A host that has
/// just started may not listen yet: its socket is waited for, briefly.
pub fn ask_host(socket: &Path, sets: &[String]) -> std::result::Result<(), String> {
    let request = format!("set\t{}", sets.join("\t"));
    let deadline = Instant::now() + Duration::from_secs(2);
    let answer = loop {
        match host_request(socket, &request) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => break other,
        }
    };
    let line = answer.map_err(|e| format!("cannot reach the host: {e}"))?;
    match line.strip_prefix("error: ") {
        Some(message) => Err(message.to_owned()),
        None if line == "ok" => Ok(()),
        None => Err(format!("the host answered `{line}`")),
    }
}

/// One request to the host's own socket (see `scope_host`'s `control`).
#[cfg(unix)]
fn host_request(socket: &Path, request: &str) -> std::io::Result<String> {
    let stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut writer = stream.try_clone()?;
    writeln!(writer, "{request}")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line.trim_end().to_owned())
}

#[cfg(not(unix))]
fn host_request(_socket: &Path, _request: &str) -> std::io::Result<String> {
    Err(std::io::Error::other("needs a Unix system"))
}

/// Sends one request to a running instance (for `scopectl ctl`): the
/// answer, and the bytes that follow it (a snapshot).
#[cfg(unix)]
pub fn request(instance: &Instance, command: &Command) -> Result<(serde_json::Value, Vec<u8>)> {
    use std::io::Read;
    let path = instance.control_socket();
    let stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        Hinted::new(
            format!(
                "no running `scopectl run` for instance `{}` ({}: {e})",
                instance.name(),
                path.display()
            ),
            "start one with `scopectl run -- run …`, or name it with `--name`",
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(90)))?;
    let mut writer = stream.try_clone()?;
    writeln!(writer, "{}", serde_json::to_string(command)?)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let answer: serde_json::Value = serde_json::from_str(&line)
        .with_context(|| format!("the supervisor answered `{}`", line.trim_end()))?;
    let mut bytes = Vec::new();
    if let Some(n) = answer.get("bytes").and_then(serde_json::Value::as_u64) {
        bytes.resize(n as usize, 0);
        reader.read_exact(&mut bytes)?;
    }
    Ok((answer, bytes))
}

#[cfg(not(unix))]
pub fn request(_instance: &Instance, _command: &Command) -> Result<(serde_json::Value, Vec<u8>)> {
    anyhow::bail!("the control socket needs a Unix system")
}

#[cfg(test)]
mod tests {
    use super::{by_generation, HostFrames};

    #[test]
    fn restarts_of_one_generation_count_together() {
        let host = |generation, frames| HostFrames { generation, frames };
        let hosts = [
            host(Some(1), 100),
            host(Some(1), 105),
            host(Some(2), 2),
            host(Some(1), 3),
        ];
        assert_eq!(
            by_generation(&hosts),
            "205 by generation 1, 2 by generation 2, 3 by generation 1"
        );
        assert_eq!(by_generation(&[]), "");
    }
}
