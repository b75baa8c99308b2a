//! `scopectl run` owns the stream: reloads, a host's exit 42, a crash and a
//! failed plugin change never show in it; `ctl` changes a running chain;
//! SIGTERM ends it at a frame boundary. Real hosts, real ffmpeg.

use crate::support;
use support::snapshot::scopectl_snapshot;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use scope_host::video::framing::{FrameReader, RawFrame};
use support::{output, probe, require_ffmpeg, stderr, stdout, TestContext};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
/// Bytes of one output frame: `FRAME\n` and the 4:2:0 planes.
const FRAME_BYTES: usize = 6 + (WIDTH * HEIGHT * 3 / 2) as usize;

/// `frames` frames of ffmpeg's test pattern, and ffmpeg's own `negate` of them.
fn videos(dir: &Path, frames: u32) -> (Vec<u8>, Vec<RawFrame>, PathBuf) {
    let input = dir.join("input.y4m");
    let expected = dir.join("expected.y4m");
    support::testsrc(&input, &format!("{WIDTH}x{HEIGHT}"), frames);
    let negated = output(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&input)
            .args(["-vf", "negate", "-pix_fmt", "yuv420p"])
            .arg(&expected),
    );
    assert!(negated.status.success(), "{}", stderr(&negated));
    let bytes = fs_err::read(&input).unwrap();
    let mut reader = FrameReader::y4m(&bytes[..]).unwrap();
    let header = reader.framing().header_bytes();
    let frames = std::iter::from_fn(|| reader.read_frame().unwrap()).collect();
    (header, frames, expected)
}

/// A plugin home with `invert` and `restart-on-file` installed.
fn home_with_invert(context: &TestContext, extra: &[&str]) {
    let mut install = context.scopectl();
    install.args(["install", "--allow-all"]);
    for plugin in ["fixtures/plugins/invert"].iter().chain(extra) {
        install.arg(support::repo().join(plugin));
    }
    let out = output(&mut install);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A running `scopectl run` fed by the test, its stdout collected.
struct Stream {
    child: Child,
    stdin: Option<ChildStdin>,
    out: support::Collector,
    /// `--output FILE` instead of stdout.
    file: Option<PathBuf>,
    log: PathBuf,
}

impl Stream {
    fn start(context: &TestContext, chain: &[&str], header: &[u8]) -> Stream {
        Stream::start_to(context, chain, header, None)
    }

    fn start_to(
        context: &TestContext,
        chain: &[&str],
        header: &[u8],
        file: Option<PathBuf>,
    ) -> Stream {
        Stream::start_with(context, &[], chain, header, file)
    }

    /// `scopectl run RUN_FLAGS -- run --input - --output FILE|- --pipeline …`.
    fn start_with(
        context: &TestContext,
        run_flags: &[&str],
        chain: &[&str],
        header: &[u8],
        file: Option<PathBuf>,
    ) -> Stream {
        let log = context.temp.path().join("run.log");
        let mut command = context.scopectl();
        command.arg("run").args(run_flags);
        command.args(["--", "run", "--input", "-", "--output"]);
        command.arg(file.as_deref().unwrap_or(Path::new("-")));
        for pipeline in chain {
            command.args(["--pipeline", pipeline]);
        }
        let mut child = command
            .env(
                "SCOPE_TEST_RESTART_FILE",
                context.temp.path().join("restart"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(fs_err::File::create(&log).unwrap().into_parts().0)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(header).unwrap();
        let out = support::collect(child.stdout.take().unwrap());
        Stream {
            child,
            stdin: Some(stdin),
            out,
            file,
            log,
        }
    }

    fn feed(&mut self, frames: &[RawFrame]) {
        let stdin = self.stdin.as_mut().unwrap();
        for frame in frames {
            frame.write_to(stdin).unwrap();
        }
        stdin.flush().unwrap();
    }

    /// Whole frames out so far (the header is one line).
    fn frames_out(&self) -> usize {
        if let Some(file) = &self.file {
            let out = fs_err::read(file).unwrap_or_default();
            let header = out.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            return out.len().saturating_sub(header) / FRAME_BYTES;
        }
        let out = self.out.bytes.lock().unwrap();
        let header = out.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        out.len().saturating_sub(header) / FRAME_BYTES
    }

    fn wait_for_frames(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.frames_out() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} frames came out: {}",
                self.frames_out(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn log(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }

    /// Closes the input and waits: the exit status, the output bytes.
    fn finish(mut self) -> (Option<i32>, Vec<u8>) {
        drop(self.stdin.take());
        let status = wait_with_timeout(&mut self.child);
        // The collector ends with the pipe.
        (status, self.out.finish())
    }
}

fn wait_with_timeout(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the supervisor did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(pid, signal).unwrap();
}

/// A home with `invert`, `frames` frames of video, and a stream through
/// `invert` that has put out the first `fed`.
fn invert_stream(
    context: &TestContext,
    frames: u32,
    fed: usize,
) -> (Stream, Vec<u8>, Vec<RawFrame>, PathBuf) {
    home_with_invert(context, &[]);
    let (header, frames, expected) = videos(context.temp.path(), frames);
    let mut stream = Stream::start(context, &["invert"], &header);
    stream.feed(&frames[..fed]);
    stream.wait_for_frames(fed);
    (stream, header, frames, expected)
}

fn ctl(context: &TestContext, args: &[&str]) -> std::process::Output {
    output(context.scopectl().arg("ctl").args(args))
}

fn host_pid(context: &TestContext) -> i32 {
    running_host(context).expect("a running host")
}

/// The pid of the host `ctl status` reports, if one runs.
fn running_host(context: &TestContext) -> Option<i32> {
    let out = ctl(context, &["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    status["host_pid"].as_i64().map(|pid| pid as i32)
}

/// The PSNR of each frame of `ours` against `reference`, in dB (inf = 1000).
fn psnr_per_frame(dir: &Path, ours: &[u8], reference: &Path) -> Vec<f64> {
    let path = dir.join("ours.y4m");
    fs_err::write(&path, ours).unwrap();
    let stats = dir.join("psnr.log");
    let out = output(
        Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&path)
            .arg("-i")
            .arg(reference)
            .arg("-lavfi")
            .arg(format!("psnr=stats_file={}:shortest=1", stats.display()))
            .args(["-f", "null", "-"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    fs_err::read_to_string(&stats)
        .unwrap()
        .lines()
        .map(|line| {
            let value = line
                .split(' ')
                .find_map(|f| f.strip_prefix("psnr_avg:"))
                .unwrap();
            value.parse().unwrap_or(1000.0)
        })
        .collect()
}

#[test]
fn reloads_an_exit_42_a_crash_and_a_failed_change_never_show_in_the_stream() {
    let context = TestContext::new();
    home_with_invert(&context, &["fixtures/test-plugins/restart-on-file"]);
    let (header, frames, expected) = videos(context.temp.path(), 300);
    let mut stream = Stream::start(&context, &["invert", "restart-on-file"], &header);
    let chunks: Vec<&[RawFrame]> = frames.chunks(50).collect();

    stream.feed(chunks[0]);
    stream.wait_for_frames(50);
    let reload = output(
        context
            .scopectl()
            .args(["reload", "scope-invert", "--force"]),
    );
    assert!(reload.status.success(), "{}", stderr(&reload));

    stream.feed(chunks[1]);
    stream.wait_for_frames(100);
    let lock_before = fs_err::read(context.home().join("resolved.lock")).unwrap();
    let failed = output(
        context
            .scopectl()
            .arg("install")
            .arg(support::repo().join("fixtures/test-plugins/register-panics")),
    );
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(
        fs_err::read(context.home().join("resolved.lock")).unwrap(),
        lock_before,
        "nothing in the home changed"
    );
    let reload = output(
        context
            .scopectl()
            .args(["reload", "scope-invert", "--force"]),
    );
    assert!(reload.status.success(), "{}", stderr(&reload));

    stream.feed(chunks[2]);
    stream.wait_for_frames(150);
    fs_err::write(context.temp.path().join("restart"), "").unwrap();
    stream.feed(chunks[3]);
    stream.wait_for_frames(200);

    let pid = host_pid(&context);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    stream.feed(chunks[4]);
    stream.feed(chunks[5]);
    let (status, out) = stream.finish();
    let log = fs_err::read_to_string(context.temp.path().join("run.log")).unwrap();
    assert_eq!(status, Some(0), "{log}");

    let path = context.temp.path().join("out.y4m");
    fs_err::write(&path, &out).unwrap();
    assert_eq!(
        probe(&path, "width,height,nb_read_frames"),
        "320,240,300",
        "one stream, every frame exactly once: {log}"
    );
    assert_eq!(
        out.windows(9).filter(|w| w == b"YUV4MPEG2").count(),
        1,
        "one header"
    );
    let psnr = psnr_per_frame(context.temp.path(), &out, &expected);
    assert_eq!(psnr.len(), 300);
    let worst = psnr.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        worst >= 35.0,
        "every frame is inverted in order: worst {worst} dB; {log}"
    );
    for expected in [
        "Handed over the stream to generation 2",
        "Handed over the stream to generation 3",
        "asked to be restarted",
        "crashed: killed by signal 9",
    ] {
        assert!(log.contains(expected), "`{expected}` in {log}");
    }
}

#[test]
fn ctl_changes_a_parameter_between_frames_and_refuses_a_bad_one() {
    let context = TestContext::new();
    let (mut stream, _, frames, expected) = invert_stream(&context, 60, 30);

    let refused = ctl(&context, &["set", "invert.intensity=7"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused)
            .contains("pipeline `invert`: `intensity` must be between 0.0 and 1.0, got 7"),
        "the message `--set` gives: {}",
        stderr(&refused)
    );
    let set = ctl(&context, &["set", "invert.intensity=0"]);
    assert!(set.status.success(), "{}", stderr(&set));
    let status = ctl(&context, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(json["host"]["stages"][0]["params"]["intensity"], 0.0);
    assert_eq!(json["chain"], serde_json::json!(["invert"]));
    assert_eq!(json["frames_out"], 30);

    // A new host keeps the live change; a restart it cannot start with is
    // refused, and the stream stays on the host that works.
    let restart = ctl(&context, &["restart"]);
    assert!(restart.status.success(), "{}", stderr(&restart));
    let refused = ctl(&context, &["restart", "--set", "intensity=7"]);
    scopectl_snapshot!(&context, "a_restart_the_host_refuses", &refused);
    // The refusal is answered as the old host starts again: its start (the
    // third), and then its stages, may show in the status a moment later.
    let deadline = Instant::now() + Duration::from_secs(5);
    let json = loop {
        let status = ctl(&context, &["status", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
        let answered = json["host"]["stages"][0]["params"]["intensity"].is_number();
        if (json["restarts"] == 3 && answered) || Instant::now() > deadline {
            break json;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(json["host"]["stages"][0]["params"]["intensity"], 0.0);
    assert_eq!(json["restarts"], 3, "{json}");

    let snapshot = context.temp.path().join("frame.png");
    let wrote = ctl(&context, &["snapshot", "-o", snapshot.to_str().unwrap()]);
    assert!(wrote.status.success(), "{}", stderr(&wrote));
    let png = probe(&snapshot, "codec_name,width,height");
    assert_eq!(png, "png,320,240");

    stream.feed(&frames[30..]);
    let (status, out) = stream.finish();
    assert_eq!(status, Some(0));
    let psnr = psnr_per_frame(context.temp.path(), &out, &expected);
    assert_eq!(
        psnr.len(),
        60,
        "the refused value left the stream untouched"
    );
    assert!(psnr[..30].iter().all(|&db| db >= 35.0), "{psnr:?}");
    // Intensity 0 gives the input back: far from its negation.
    assert!(psnr[30..].iter().all(|&db| db < 15.0), "{psnr:?}");
}

#[test]
fn sigterm_ends_the_stream_at_a_frame_boundary_and_the_bare_host_too() {
    let context = TestContext::new();
    let (stream, header, frames, _) = invert_stream(&context, 20, 20);
    signal(stream.child.id(), rustix::process::Signal::TERM);
    let (status, out) = stream.finish();
    assert_eq!(status, Some(143));
    let header_len = out.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert_eq!(
        out.len(),
        header_len + 20 * FRAME_BYTES,
        "whole frames only"
    );

    // Two signals: at once, and still whole frames.
    let mut stream = Stream::start(&context, &["invert"], &header);
    stream.feed(&frames[..10]);
    stream.wait_for_frames(10);
    for _ in 0..2 {
        signal(stream.child.id(), rustix::process::Signal::TERM);
    }
    let (status, out) = stream.finish();
    assert_eq!(status, Some(143));
    assert_eq!(
        (out.len() - header_len) % FRAME_BYTES,
        0,
        "whole frames only"
    );

    // The host alone: the first SIGTERM closes the input, the frames in
    // flight are written, the summary printed.
    let mut host = BareHost::start(&context, &header);
    for frame in &frames[..5] {
        frame.write_to(&mut host.stdin).unwrap();
    }
    host.stdin.flush().unwrap();
    host.wait_for_frames(5);
    signal(host.child.id(), rustix::process::Signal::TERM);
    // The input stops at the next frame boundary.
    let _ = frames[5]
        .write_to(&mut host.stdin)
        .and_then(|()| host.stdin.flush());
    let (status, out, log) = host.finish();
    assert_eq!(status, Some(143), "{log}");
    assert!(log.contains("stopped by SIGTERM"), "{log}");
    let header_len = out.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert_eq!((out.len() - header_len) % FRAME_BYTES, 0, "{log}");
    assert!(out.len() >= header_len + 5 * FRAME_BYTES, "{log}");

    // A signal that lands when every frame sent has been read and nothing
    // more comes (stdin open, idle): the host still ends. It used to wait
    // for a next frame forever (CI saw it when the signal was handled just
    // after the last frame was read).
    let mut host = BareHost::start(&context, &header);
    for frame in &frames[..3] {
        frame.write_to(&mut host.stdin).unwrap();
    }
    host.stdin.flush().unwrap();
    host.wait_for_bytes(header_len + 3 * FRAME_BYTES);
    signal(host.child.id(), rustix::process::Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = host.child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = host.child.kill();
            panic!("the host did not end after SIGTERM with its input idle");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(143));
}

/// The home's host alone, `invert` from stdin to stdout, given `header`.
/// Its output is read as it comes, so that a test writing its input never
/// waits on a host waiting for its output to be read (a deadlock the
/// SIGTERM test had when the host held fewer frames).
struct BareHost {
    child: Child,
    stdin: ChildStdin,
    out: support::Collector,
}

impl BareHost {
    fn start(context: &TestContext, header: &[u8]) -> BareHost {
        let mut child = Command::new(context.home().join("bin/scope-host"))
            .args([
                "run",
                "--input",
                "-",
                "--pipeline",
                "invert",
                "--output",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(header).unwrap();
        let out = support::collect(child.stdout.take().unwrap());
        BareHost { child, stdin, out }
    }

    /// Waits (at most 10 s) until the host has written `n` bytes.
    fn wait_for_bytes(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.out.bytes.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "the host wrote fewer than {n} bytes"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the host has written `n` whole frames after its header.
    fn wait_for_frames(&self, n: usize) {
        support::wait_until(
            || {
                let out = self.out.bytes.lock().unwrap();
                let header = out
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(out.len(), |i| i + 1);
                out.len() >= header + n * FRAME_BYTES
            },
            || format!("the host wrote fewer than {n} frames"),
        );
    }

    /// Closes the input, waits for the host: its status, output and log.
    fn finish(self) -> (Option<i32>, Vec<u8>, String) {
        drop(self.stdin);
        let done = self.child.wait_with_output().unwrap();
        let out = self.out.finish();
        let log = String::from_utf8_lossy(&done.stderr).into_owned();
        (done.status.code(), out, log)
    }
}

#[test]
fn the_supervisor_widens_its_input_pipe_as_the_bare_host_does() {
    // At the default 64 KiB a 1080p frame crossed in 48 rounds of wake-ups.
    let context = TestContext::new();
    let (stream, _, _, _) = invert_stream(&context, 2, 2);
    let input = stream.stdin.as_ref().unwrap();
    assert_eq!(rustix::pipe::fcntl_getpipe_size(input).unwrap(), 1 << 20);
    let (status, _) = stream.finish();
    assert_eq!(status, Some(0), "{}", stream_log(&context));
}

#[test]
fn a_second_run_of_the_same_instance_is_refused() {
    let context = TestContext::new();
    let (stream, _, _, _) = invert_stream(&context, 5, 5);
    let second = output(context.scopectl().args([
        "run",
        "--",
        "run",
        "--input",
        "testsrc",
        "--pipeline",
        "invert",
        "--output",
        "null",
    ]));
    scopectl_snapshot!(&context, "a_second_run_of_one_instance", &second);
    // Another instance of the same home runs beside it.
    let named = output(context.scopectl().args([
        "run",
        "--name",
        "cam1",
        "--",
        "run",
        "--input",
        "testsrc",
        "--pipeline",
        "invert",
        "--frames",
        "3",
        "--output",
        "null",
    ]));
    assert!(named.status.success(), "{}", stderr(&named));
    assert!(
        stderr(&named).contains("Stream 3 frames out (3 by generation 1)"),
        "`--output null` counts what the host put out: {}",
        stderr(&named)
    );
    let socket = context.home().join("run/default/control.sock");
    let mode = fs_err::metadata(&socket).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let (status, _) = stream.finish();
    assert_eq!(status, Some(0));
    assert!(!socket.exists(), "the socket is removed at the end");
}

#[test]
fn an_output_file_only_grows_across_a_reload() {
    let context = TestContext::new();
    home_with_invert(&context, &[]);
    let (header, frames, expected) = videos(context.temp.path(), 60);
    let file = context.temp.path().join("out.y4m");
    let mut stream = Stream::start_to(&context, &["invert"], &header, Some(file.clone()));
    stream.feed(&frames[..30]);
    stream.wait_for_frames(30);
    let before = fs_err::read(&file).unwrap();
    let reload = output(
        context
            .scopectl()
            .args(["reload", "scope-invert", "--force"]),
    );
    assert!(reload.status.success(), "{}", stderr(&reload));
    let after = fs_err::read(&file).unwrap();
    assert!(after.starts_with(&before), "the file was not rewritten");
    stream.feed(&frames[30..]);
    let (status, _) = stream.finish();
    assert_eq!(
        status,
        Some(0),
        "{}",
        fs_err::read_to_string(context.temp.path().join("run.log")).unwrap()
    );
    let out = fs_err::read(&file).unwrap();
    assert!(out.starts_with(&before), "the file was never truncated");
    let psnr = psnr_per_frame(context.temp.path(), &out, &expected);
    assert_eq!(psnr.len(), 60);
    assert!(psnr.iter().all(|&db| db >= 35.0), "{psnr:?}");
}

/// Frames are lent to pipes, not copied (`vmsplice`): many small frames,
/// whose pages a pipe holds by the hundred, come out exactly as the bare
/// host writes them.
#[test]
fn many_small_frames_come_out_as_the_bare_host_writes_them() {
    require_ffmpeg();
    let context = TestContext::new();
    home_with_invert(&context, &[]);
    let input = context.temp.path().join("small.y4m");
    support::testsrc(&input, "16x16", 3000);
    let run = |command: &mut Command| {
        let out = output(
            command
                .args(["--input", "-", "--pipeline", "invert", "--output", "-"])
                .stdin(fs_err::File::open(&input).unwrap().into_parts().0),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    let bare = run(Command::new(context.home().join("bin/scope-host")).arg("run"));
    let supervised = run(context.scopectl().args(["run", "--", "run"]));
    assert_eq!(bare.len(), supervised.len());
    assert!(
        bare == supervised,
        "the supervised stream differs from the bare host's"
    );
}

/// Raw rgb24 frames (no `FRAME` lines to find them by) from a file read by
/// offset and from a pipe come out as the bare host writes them.
#[test]
fn rgb24_frames_from_a_file_and_a_pipe_come_out_as_the_bare_host_writes_them() {
    require_ffmpeg();
    let context = TestContext::new();
    home_with_invert(&context, &[]);
    let input = context.temp.path().join("in.rgb");
    support::testsrc_rgb24(&input, "64x48", 9);
    let args = [
        "--input-format",
        "rgb24",
        "--size",
        "64x48",
        "--pipeline",
        "invert",
        "--output-format",
        "rgb24",
        "--output",
        "-",
    ];
    let bare = output(
        Command::new(context.home().join("bin/scope-host"))
            .args(["run", "--input"])
            .arg(&input)
            .args(args),
    );
    assert!(bare.status.success(), "{}", stderr(&bare));
    assert_eq!(bare.stdout.len(), 9 * 64 * 48 * 3);
    let from_file = output(
        context
            .scopectl()
            .args(["run", "--", "run", "--input"])
            .arg(&input)
            .args(args),
    );
    let from_pipe = support::output_fed(
        context
            .scopectl()
            .args(["run", "--", "run", "--input", "-"])
            .args(args),
        fs_err::read(&input).unwrap(),
    );
    for (how, out) in [("a file", from_file), ("a pipe", from_pipe)] {
        assert!(out.status.success(), "from {how}: {}", stderr(&out));
        assert!(
            out.stdout == bare.stdout,
            "from {how}: not the bare host's frames"
        );
    }
}

/// An input cut short in its last frame: the stream ends with the whole
/// frames before it and fails, as the bare host does, whether the input is
/// a file (read by offset) or a pipe (held in pipes).
#[test]
fn an_input_cut_short_ends_with_its_whole_frames_and_fails() {
    require_ffmpeg();
    let context = TestContext::new();
    home_with_invert(&context, &[]);
    videos(context.temp.path(), 10);
    let whole = fs_err::read(context.temp.path().join("input.y4m")).unwrap();
    let cut = context.temp.path().join("cut.y4m");
    fs_err::write(&cut, &whole[..whole.len() - 100]).unwrap();
    let args = ["--input", "-", "--pipeline", "invert", "--output", "-"];
    let file = || Stdio::from(fs_err::File::open(&cut).unwrap().into_parts().0);
    let bare = output(
        Command::new(context.home().join("bin/scope-host"))
            .arg("run")
            .args(args)
            .stdin(file()),
    );
    assert_eq!(bare.status.code(), Some(1), "{}", stderr(&bare));
    let mut frames = FrameReader::y4m(&bare.stdout[..]).unwrap();
    assert_eq!(
        std::iter::from_fn(|| frames.read_frame().unwrap()).count(),
        9
    );
    let from_file = output(
        context
            .scopectl()
            .args(["run", "--", "run"])
            .args(args)
            .stdin(file()),
    );
    let from_pipe = support::output_fed(
        context.scopectl().args(["run", "--", "run"]).args(args),
        whole[..whole.len() - 100].to_vec(),
    );
    for (how, out) in [("a file", from_file), ("a pipe", from_pipe)] {
        assert_eq!(out.status.code(), Some(1), "from {how}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("frame 10 is truncated"),
            "from {how}: {}",
            stderr(&out)
        );
        assert!(
            out.stdout == bare.stdout,
            "from {how}: not the bare host's 9 frames"
        );
    }
}

/// `--on-restart pass` writes the frames a crashed host swallowed as they
/// came in, `drop` drops them; neither breaks the stream's order or shape.
#[test]
fn on_restart_pass_and_drop_handle_a_crashed_hosts_frames() {
    let context = TestContext::new();
    home_with_invert(&context, &[]);
    let (header, frames, expected) = videos(context.temp.path(), 40);
    let input = context.temp.path().join("input.y4m");
    for mode in ["pass", "drop"] {
        let mut stream = Stream::start_with(
            &context,
            &["--on-restart", mode],
            &["invert"],
            &header,
            None,
        );
        stream.feed(&frames[..20]);
        stream.wait_for_frames(20);
        // Ten frames in flight when the host dies: it is stopped, given
        // them (as many as its pipe holds; the rest wait), and killed.
        let pid = rustix::process::Pid::from_raw(host_pid(&context)).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
        stream.feed(&frames[20..30]);
        // Not a wait for an event: time for the supervisor to push frames
        // into the stopped host's pipe, so that some are in flight (those
        // it could not push wait for the next host either way).
        std::thread::sleep(Duration::from_millis(300));
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
        // The next host runs before the rest comes.
        let deadline = Instant::now() + Duration::from_secs(20);
        while running_host(&context).is_none_or(|new| new == pid.as_raw_nonzero().get()) {
            assert!(Instant::now() < deadline, "no new host: {}", stream.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        stream.feed(&frames[30..]);
        let log_path = stream.log.clone();
        let (status, out) = stream.finish();
        let log = fs_err::read_to_string(&log_path).unwrap();
        assert_eq!(status, Some(0), "{log}");
        let inverted = psnr_per_frame(context.temp.path(), &out, &expected);
        let original = psnr_per_frame(context.temp.path(), &out, &input);
        let good = |psnr: &[f64]| psnr.iter().all(|&db| db >= 35.0);
        if mode == "pass" {
            let header_len = out.iter().position(|&b| b == b'\n').unwrap() + 1;
            let n = (out.len() - header_len) / FRAME_BYTES;
            assert_eq!(n, 40, "pass loses no frame: {log}");
            // In order: inverted, the ten passed through as they came, inverted.
            assert!(
                good(&inverted[..20]) && good(&original[20..30]) && good(&inverted[30..]),
                "{inverted:?} {original:?}"
            );
            assert!(
                log.contains("10 frames passed through unprocessed"),
                "{log}"
            );
        } else {
            let header_len = out.iter().position(|&b| b == b'\n').unwrap() + 1;
            let n = (out.len() - header_len) / FRAME_BYTES;
            assert_eq!(n, 30, "drop drops the ten: {log}");
            assert!(good(&inverted[..20]), "{inverted:?}");
            assert!(log.contains("10 frames dropped"), "{log}");
        }
    }
}

/// `--gate`: a new generation whose plugin fails at every frame is
/// watched, found wanting and switched back from, at a frame boundary;
/// every frame comes out exactly once and `history` says why.
#[test]
fn a_gated_stream_goes_back_from_a_generation_that_fails_every_frame() {
    let context = TestContext::new();
    let chaos = context.temp.path().join("chaos");
    let fixture = support::repo().join("fixtures/test-plugins/chaos");
    fs_err::create_dir_all(chaos.join("src")).unwrap();
    for file in ["Cargo.toml", "src/lib.rs"] {
        fs_err::copy(fixture.join(file), chaos.join(file)).unwrap();
    }
    let installed = output(context.scopectl().arg("install").arg(&chaos));
    assert!(installed.status.success(), "{}", stderr(&installed));
    let (header, frames, expected) = videos(context.temp.path(), 150);
    let mut stream = Stream::start_with(
        &context,
        &["--gate", "10s:lost=0,unloaded=0"],
        &["chaos"],
        &header,
        None,
    );
    stream.feed(&frames[..50]);
    stream.wait_for_frames(50);

    // Generation 2: the same plugin, failing at every frame by default.
    let source = fs_err::read_to_string(chaos.join("src/lib.rs")).unwrap();
    let failing = source
        .replace(
            r#"Param::choice("fault", &FAULTS, "none")"#,
            r#"Param::choice("fault", &FAULTS, "err")"#,
        )
        .replace(r#"Param::integer("at", 10)"#, r#"Param::integer("at", 1)"#)
        .replace(
            r#"Param::bool("every", false)"#,
            r#"Param::bool("every", true)"#,
        );
    assert_ne!(failing, source, "the fixture's defaults moved");
    fs_err::write(chaos.join("src/lib.rs"), failing).unwrap();
    let reload = output(context.scopectl().args(["reload", "chaos"]));
    assert!(reload.status.success(), "{}", stderr(&reload));
    stream.feed(&frames[50..100]);

    let active = || {
        let history = output(context.scopectl().args(["history", "--json"]));
        let document: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
        document["generations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["current"] == true)
            .and_then(|g| g["number"].as_u64())
    };
    support::wait_until(
        || stream.log().contains("failed its gate") && active() == Some(1),
        || format!("no automatic rollback: {}", stream.log()),
    );
    stream.feed(&frames[100..]);
    let (status, out) = stream.finish();
    let log = stream_log(&context);
    assert_eq!(status, Some(0), "{log}");

    let path = context.temp.path().join("out.y4m");
    fs_err::write(&path, &out).unwrap();
    assert_eq!(
        probe(&path, "width,height,nb_read_frames"),
        "320,240,150",
        "every frame exactly once: {log}"
    );
    assert_eq!(out.windows(9).filter(|w| w == b"YUV4MPEG2").count(), 1);
    // Generation 1 inverts again once the stream is back on it: the
    // summary says how many frames it put out last.
    let last = log
        .rsplit_once(" by generation 1) in ")
        .and_then(|(before, _)| before.rsplit_once(", ")?.1.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no summary ending with generation 1: {log}"));
    assert!(last > 0 && last <= 50, "{log}");
    let psnr = psnr_per_frame(context.temp.path(), &out, &expected);
    assert!(
        psnr[150 - last..].iter().all(|&db| db >= 35.0),
        "{:?}; {log}",
        &psnr[150 - last..]
    );
    assert!(
        log.contains("generation 2 failed its gate: `unloaded=0` failed: measured 1 unloaded (chaos); going back to generation 1"),
        "{log}"
    );
    let history = stdout(&output(context.scopectl().arg("history")));
    assert!(
        history.contains("rolled back automatically to generation 1 at ")
            && history.contains("gate `unloaded=0` failed: measured 1 unloaded (chaos)"),
        "{history}"
    );
}

fn stream_log(context: &TestContext) -> String {
    fs_err::read_to_string(context.temp.path().join("run.log")).unwrap()
}
