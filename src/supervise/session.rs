//! One host process inside a supervised stream: the feeder thread writes
//! whole input frames to its stdin, the collector thread takes whole frames
//! from the host and writes them to the stream's output — from the host's
//! output slots (`slots`) where it fills them, else read from its stdout.
//!
//! Every frame given to a host stays in the `in_flight` queue until the
//! host has put out a frame for it, so that if the host dies the frames it
//! swallowed can be given to the next one.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::frame_pool;
use super::held::{Held, HeldReader};
use super::latest::Latest;
use super::pipe_io::{give, Giver};
#[cfg(target_os = "linux")]
use super::slots::OutputSlots;
use scope_host::video::framing::Framing;

/// A frame shared between the input, the in-flight queue and a host.
pub type Shared = Arc<Held>;

/// Frames given to the host and not yet answered.
pub type InFlight = Arc<Mutex<VecDeque<Shared>>>;

/// Where a stream's frames go.
pub enum Sink {
    /// A file or our stdout, by descriptor (a pipe is lent frames, see `pipe_io`).
    File(std::fs::File),
    /// `--output null`: frames are counted, not written.
    Null,
    /// Anything else.
    Other(Box<dyn Write + Send>),
}

impl Sink {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.write_all(bytes),
            Sink::Null => Ok(()),
            Sink::Other(w) => w.write_all(bytes),
        }
    }
}

/// What every host of a stream writes to.
pub struct Output {
    /// The stream's output (stdout or a file), or nothing (`--output null`).
    pub writer: Mutex<Option<(Sink, Giver)>>,
    /// The header the first host wrote; later hosts must write the same.
    pub header: Mutex<Option<Framing>>,
    /// The frame most recently kept for `ctl snapshot`: from a host's
    /// output slots, every frame, where it is; from its stdout, every frame
    /// of a stream slower than one frame a [`FAST`], and otherwise one at
    /// least every [`KEEP_EVERY`] (the others are given away, see
    /// [`Output::write_host_frame`]).
    pub latest: Mutex<Option<Latest>>,
    /// When `latest` was last kept, and when the host's last frame came.
    pub kept_at: Mutex<Option<Instant>>,
    pub came_at: Mutex<Option<Instant>>,
    /// Frames written.
    pub frames: AtomicU64,
    /// When each frame in flight was given to the host, oldest first: the
    /// frame latency through the host.
    pub given: Mutex<VecDeque<Instant>>,
}

/// How old the frame `ctl snapshot` shows may be while frames stream
/// faster than they are kept.
const KEEP_EVERY: Duration = Duration::from_millis(100);
/// Frames that come closer together than this are a stream as fast as its
/// host (not one at a live rate, whose every frame is kept).
const FAST: Duration = Duration::from_millis(10);

impl Output {
    /// An output that writes to `writer`, before any frame.
    pub fn new(writer: Sink) -> Output {
        Output {
            writer: Mutex::new(Some((writer, Giver::default()))),
            header: Mutex::new(None),
            latest: Mutex::new(None),
            kept_at: Mutex::new(None),
            came_at: Mutex::new(None),
            frames: Default::default(),
            given: Default::default(),
        }
    }

    /// Writes a frame a host put out. A frame held in pipes that no
    /// snapshot needs (it came less than [`FAST`] after the one before, and
    /// a frame was kept less than [`KEEP_EVERY`] ago) is given away: its
    /// pages move on to the output, with no duplicate made and none to free.
    pub fn write_host_frame(&self, frame: Held) -> std::io::Result<()> {
        let now = Instant::now();
        let fast = lock(&self.came_at)
            .replace(now)
            .is_some_and(|before| now - before < FAST);
        #[cfg(target_os = "linux")]
        let frame = match frame {
            Held::Piped { line, payload }
                if fast && lock(&self.kept_at).is_some_and(|at| now - at < KEEP_EVERY) =>
            {
                let mut writer = lock(&self.writer);
                match writer.as_mut() {
                    Some((Sink::File(file), giver)) => {
                        match super::pipe_io::give_away(file, &line, payload, giver)? {
                            None => {
                                self.frames.fetch_add(1, Ordering::Relaxed);
                                return Ok(());
                            }
                            Some(payload) => Held::Piped { line, payload },
                        }
                    }
                    _ => Held::Piped { line, payload },
                }
            }
            frame => frame,
        };
        #[cfg(not(target_os = "linux"))]
        let _ = fast;
        self.write(&Arc::new(frame))
    }

    /// Writes one whole frame and flushes it, so the consumer gets it now.
    pub fn write(&self, frame: &Shared) -> std::io::Result<()> {
        let mut writer = lock(&self.writer);
        match writer.as_mut() {
            // Copied, not lent with `vmsplice(2)` as to a host: its buffer
            // is reused for a later frame, and a reader that moves the
            // pipe's pages on (`pv`) would see that frame further down.
            Some((Sink::File(file), _)) if matches!(**frame, Held::Bytes(_)) => {
                frame.write_to(file)?
            }
            Some((Sink::File(file), giver)) => give(file, frame, giver)?,
            Some((Sink::Null, _)) => {}
            Some((Sink::Other(out), _)) => {
                frame.write_to(out)?;
                out.flush()?;
            }
            None => {}
        }
        self.frames.fetch_add(1, Ordering::Relaxed);
        let before = lock(&self.latest).replace(Latest::Held(frame.clone()));
        *lock(&self.kept_at) = Some(Instant::now());
        if let Some(before) = before {
            before.release();
        }
        Ok(())
    }

    /// Writes a frame a host put in its output slots, copied (with its
    /// `FRAME` line when `y4m`), and keeps it there as the latest; the
    /// slots before it go back to the host.
    ///
    /// Not lent with `vmsplice(2)`, which measured 3–8 % faster: a reader
    /// that moves the pipe's pages on instead of copying them (`pv` splices
    /// them into its own output pipe) would leave them referring to a slot
    /// the host fills again, and a frame further down would change.
    #[cfg(target_os = "linux")]
    pub fn write_slot(
        &self,
        y4m: bool,
        slots: &mut OutputSlots,
        len: usize,
    ) -> std::io::Result<()> {
        let frame = slots.next(len)?;
        let line = if y4m { "FRAME" } else { "" };
        match lock(&self.writer).as_mut() {
            Some((Sink::File(file), _)) => write_frame(file, line, frame.bytes())?,
            Some((Sink::Null, _)) | None => {}
            Some((Sink::Other(out), _)) => {
                write_frame(out, line, frame.bytes())?;
                out.flush()?;
            }
        }
        self.frames.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        *lock(&self.came_at) = Some(now);
        let before = {
            let mut latest = lock(&self.latest);
            let before = latest.replace(Latest::InSlot { frame, line });
            // Under the lock: no snapshot is copying the frame before.
            slots.give_back_all_but_latest();
            before
        };
        *lock(&self.kept_at) = Some(now);
        if let Some(before) = before {
            before.release();
        }
        Ok(())
    }

    /// Copies the latest frame out of its slot, which then goes back to
    /// the host (the output failed, and the host must not be stuck).
    #[cfg(target_os = "linux")]
    pub fn take_latest_out_of(&self, slots: &mut OutputSlots) {
        let mut latest = lock(&self.latest);
        if let Some(kept @ Latest::InSlot { .. }) = latest.take() {
            *latest = kept
                .raw()
                .ok()
                .map(|raw| Latest::Held(Arc::new(Held::Bytes(raw))));
        }
        slots.give_back_all();
    }
}

/// Writes a frame's line (with its newline, when it has one) and payload,
/// in one call where the writer takes both at once.
fn write_frame(out: &mut impl Write, line: &str, payload: &[u8]) -> std::io::Result<()> {
    use std::io::IoSlice;
    let head = if line.is_empty() {
        Vec::new()
    } else {
        format!("{line}\n").into_bytes()
    };
    let mut slices = [IoSlice::new(&head), IoSlice::new(payload)];
    let mut left = &mut slices[..];
    IoSlice::advance_slices(&mut left, 0);
    while !left.is_empty() {
        match out.write_vectored(left) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut left, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How a host's output is read.
#[derive(Clone)]
pub enum OutputFraming {
    /// A y4m stream: the host writes its header.
    Y4m,
    /// Raw rgb24 frames of this size.
    Rgb24(u32, u32),
}

/// A running host and its two threads.
pub struct Session {
    pub child: Child,
    pub binary: PathBuf,
    pub started: Instant,
    /// Tells the feeder to stop at a frame boundary and close the host's stdin.
    pub hand_off: Arc<AtomicBool>,
    feeder: Option<JoinHandle<()>>,
    collector: Option<JoinHandle<Collected>>,
    /// Set by the collector when the host's output ended (it is exiting):
    /// the supervisor's loop wakes for it instead of sleeping out its poll.
    output_closed: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

/// What the collector saw.
#[derive(Default)]
pub struct Collected {
    /// Whole frames written to the output.
    pub frames: u64,
    /// Why the host's output could not be used (a different header, a
    /// write error), if it could not.
    pub error: Option<String>,
}

/// The input side of a stream: frames from the supervisor's reader.
pub struct Feed {
    /// The input's format; its header starts every host's stdin.
    pub framing: Framing,
    pub frames: Arc<Mutex<Receiver<Shared>>>,
    /// Frames read from the input so far.
    pub read: Arc<AtomicU64>,
    /// Set once the input ended (or was stopped) and every frame was given out.
    pub ended: Arc<AtomicBool>,
    /// Set when the input could not be read to its end (a frame cut
    /// short, a read error): the stream ends there, and not with success.
    pub unreadable: Arc<AtomicBool>,
    /// The input, when it is a regular file: hosts that can read it by
    /// offset are given it (`scope_host::video::by_offset`).
    #[cfg(target_os = "linux")]
    pub input_file: Option<Arc<std::os::fd::OwnedFd>>,
}

impl Session {
    /// Starts `command` (a host with its arguments, sandboxed); replays
    /// `replay` before new input.
    pub fn start(
        mut command: Command,
        feed: Option<&Feed>,
        replay: Vec<Shared>,
        in_flight: &InFlight,
        output: Option<(&Arc<Output>, OutputFraming)>,
        last_words: &Path,
    ) -> Result<Session> {
        let binary = PathBuf::from(command.get_program());
        // Words of a host before this one are not this one's.
        let _ = fs_err::remove_file(last_words);
        command.env(scope_host::LAST_WORDS, last_words);
        command.stdin(if feed.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(if output.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        // The terminal's Ctrl-C is for the supervisor, which stops the
        // host at a frame boundary; it must not reach the host directly.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        // The host's output frames come through slots, where it has them.
        #[cfg(target_os = "linux")]
        let output_slots = output.as_ref().and_then(|_| OutputSlots::new().ok());
        #[cfg(target_os = "linux")]
        if let Some(slots) = &output_slots {
            super::slots::lend(&mut command, slots);
        }
        // A host that answers through slots may read a file input itself.
        // Only y4m: the supervisor knows whether the host does once it
        // read the stream's header, and rgb24 has none.
        #[cfg(target_os = "linux")]
        let input_file = feed
            .filter(|f| !f.framing.header_bytes().is_empty())
            .and_then(|f| f.input_file.as_ref());
        #[cfg(target_os = "linux")]
        let by_offset = match (&output_slots, input_file) {
            (Some(slots), Some(input)) => slots.file().ok().inspect(|_| {
                super::by_offset::offer(&mut command, input);
            }),
            _ => None,
        };
        #[cfg(not(target_os = "linux"))]
        let (output_slots, by_offset): (Option<()>, Option<()>) = (None, None);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", binary.display()))?;
        widen_pipes(&child);
        let hand_off = Arc::new(AtomicBool::new(false));
        if let Some((output, _)) = &output {
            // Frames given to an earlier host are given again (or not at all).
            lock(&output.given).clear();
        }
        let feeder = match (feed, child.stdin.take()) {
            (Some(feed), Some(stdin)) => Some(spawn_feeder(
                stdin,
                feed,
                replay,
                in_flight.clone(),
                hand_off.clone(),
                output.as_ref().map(|(o, _)| (*o).clone()),
                by_offset,
            )),
            _ => None,
        };
        let output_closed: Arc<(Mutex<bool>, std::sync::Condvar)> = Arc::default();
        let collector = match (output, child.stdout.take()) {
            (Some((output, framing)), Some(stdout)) => {
                let closed = output_closed.clone();
                let in_flight = in_flight.clone();
                let output = output.clone();
                let collector = std::thread::spawn(move || match output_slots {
                    // A host built before slots writes its frames to stdout.
                    #[cfg(target_os = "linux")]
                    Some(slots) if slots.used_by(&stdout) => {
                        collect_slots(stdout, framing, &output, &in_flight, slots)
                    }
                    _ => collect_piped(stdout, framing, &output, &in_flight),
                });
                // Says when the collector is done, whichever way it ended.
                Some(std::thread::spawn(move || {
                    let collected = collector.join().unwrap_or_default();
                    *lock(&closed.0) = true;
                    closed.1.notify_all();
                    collected
                }))
            }
            _ => None,
        };
        Ok(Session {
            child,
            binary,
            output_closed,
            started: Instant::now(),
            hand_off,
            feeder,
            collector,
        })
    }

    /// Waits up to `poll` for something to do: returns early when the
    /// host's output ended, and then polls briefly, as the host is exiting.
    pub fn pause(&self, poll: Duration) {
        let (closed, changed) = &*self.output_closed;
        let guard = lock(closed);
        if *guard {
            drop(guard);
            std::thread::sleep(Duration::from_micros(200));
            return;
        }
        let _ = changed.wait_timeout(guard, poll);
    }

    /// Waits for both threads (the host has exited).
    pub fn finish(mut self) -> Collected {
        // A feeder waiting for input would wait for a host that is gone.
        self.hand_off.store(true, Ordering::SeqCst);
        if let Some(feeder) = self.feeder.take() {
            let _ = feeder.join();
        }
        self.collector
            .take()
            .and_then(|c| c.join().ok())
            .unwrap_or_default()
    }
}

/// Pipes hold 64 KiB by default: a 1080p frame would cross in 48 rounds of
/// wake-ups. 1 MiB (the unprivileged maximum on Linux) cuts that to three.
#[cfg(target_os = "linux")]
fn widen_pipes(child: &Child) {
    const PIPE_BYTES: usize = 1 << 20;
    if let Some(stdin) = &child.stdin {
        let _ = rustix::pipe::fcntl_setpipe_size(stdin, PIPE_BYTES);
    }
    if let Some(stdout) = &child.stdout {
        let _ = rustix::pipe::fcntl_setpipe_size(stdout, PIPE_BYTES);
    }
}

#[cfg(not(target_os = "linux"))]
fn widen_pipes(_child: &Child) {}

fn spawn_feeder(
    stdin: ChildStdin,
    feed: &Feed,
    replay: Vec<Shared>,
    in_flight: InFlight,
    hand_off: Arc<AtomicBool>,
    output: Option<Arc<Output>>,
    // The host's output slots' file, when it was offered the input file.
    #[cfg(target_os = "linux")] by_offset: Option<std::fs::File>,
    #[cfg(not(target_os = "linux"))] by_offset: Option<()>,
) -> JoinHandle<()> {
    let header = feed.framing.header_bytes();
    let frames = feed.frames.clone();
    let ended = feed.ended.clone();
    std::thread::spawn(move || {
        let mut stdin = stdin;
        // A host that dies while frames are replayed to it leaves the rest
        // in flight too, for the next one (they were dropped here: a host
        // crashing at every start lost frames, and the stream ended with
        // success).
        let mut replay = replay.into_iter();
        if stdin.write_all(&header).is_err() {
            lock(&in_flight).extend(replay);
            return;
        }
        #[cfg(target_os = "linux")]
        let by_offset =
            by_offset.is_some_and(|slots| super::by_offset::host_reads(&stdin, &slots, &hand_off));
        #[cfg(not(target_os = "linux"))]
        let by_offset = by_offset.is_some();
        let mut giver = Giver::default();
        let mut give = |stdin: &mut ChildStdin, frame: Shared| {
            lock(&in_flight).push_back(frame.clone());
            if let Some(output) = &output {
                lock(&output.given).push_back(Instant::now());
            }
            #[cfg(target_os = "linux")]
            if by_offset {
                return super::by_offset::give(stdin, &frame);
            }
            give(stdin, &frame, &mut giver)
        };
        while let Some(frame) = replay.next() {
            if give(&mut stdin, frame).is_err() {
                lock(&in_flight).extend(replay);
                return;
            }
        }
        loop {
            if hand_off.load(Ordering::SeqCst) {
                return; // dropping stdin closes it: the host drains and exits
            }
            let next = lock(&frames).recv_timeout(Duration::from_millis(10));
            match next {
                Ok(frame) => {
                    if give(&mut stdin, frame).is_err() {
                        return; // the host is gone; the frame is in flight
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    ended.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
    })
}

/// Checks a host's output format against the stream's: the first host's
/// header is written to the output, and every later host must agree.
fn agree_on_header(output: &Output, framing: &Framing) -> Result<(), String> {
    let mut header = lock(&output.header);
    match header.as_ref() {
        None => {
            let bytes = framing.header_bytes();
            lock(&output.writer)
                .as_mut()
                .map_or(Ok(()), |(out, _)| out.write_all(&bytes))
                .map_err(|e| format!("cannot write the output: {e}"))?;
            *header = Some(framing.clone());
            Ok(())
        }
        Some(first) if first != framing => Err(format!(
            "the host's output is `{}`, but the stream is `{}`: a stream keeps one format",
            header_text(framing),
            header_text(first)
        )),
        Some(_) => Ok(()),
    }
}

/// Reads a host's stdout (see [`super::slots`]): its header, then a byte
/// for each frame it filled, which is written out and its slot given back.
#[cfg(target_os = "linux")]
fn collect_slots(
    stdout: ChildStdout,
    framing: OutputFraming,
    output: &Output,
    in_flight: &InFlight,
    mut slots: OutputSlots,
) -> Collected {
    use scope_host::video::slots::FRAME_OUT;
    use std::io::Read;
    let mut collected = Collected::default();
    let mut answers = std::io::BufReader::with_capacity(4096, stdout);
    let framing = match framing {
        OutputFraming::Rgb24(width, height) => Framing::Rgb24 { width, height },
        OutputFraming::Y4m => match Framing::read_y4m(&mut answers) {
            Ok(framing) => framing,
            // Nothing came out (the host failed before its first frame).
            Err(_) => return collected,
        },
    };
    let y4m = matches!(framing, Framing::Y4m { .. });
    let len = framing.frame_len();
    let mut failed = agree_on_header(output, &framing).err();
    // The host sized its slots before it wrote anything. Slots it cannot
    // be given back end it: its stdout closes, and it stops at its next
    // frame instead of waiting for a slot for good.
    if let Err(e) = slots.map(len) {
        collected.error = Some(e.to_string());
        return collected;
    }
    let mut buffer = [0u8; 64];
    loop {
        let answers = match answers.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => &buffer[..n],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for &answer in answers {
            match answer {
                FRAME_OUT if failed.is_none() => {
                    answered(output, in_flight);
                    match output.write_slot(y4m, &mut slots, len) {
                        Ok(()) => collected.frames += 1,
                        Err(e) => {
                            failed = Some(format!("cannot write the output: {e}"));
                            output.take_latest_out_of(&mut slots);
                        }
                    }
                }
                // Given back unwritten, so that the host is not stuck.
                FRAME_OUT => slots.skip(),
                other => {
                    failed.get_or_insert_with(|| format!(
                        "the host answered with byte {other:#04x}, which is not in the protocol of this scopectl's hosts"
                    ));
                }
            }
        }
    }
    collected.error = failed;
    collected
}

/// The host put out a frame: the oldest frame in flight was answered.
fn answered(output: &Output, in_flight: &InFlight) {
    let answered = lock(in_flight).pop_front();
    if let Some(answered) = answered {
        frame_pool::release(answered);
    }
    if let Some(given) = lock(&output.given).pop_front() {
        crate::metrics::global()
            .frame_latency
            .observe(given.elapsed().as_secs_f64());
    }
}

/// Reads whole frames from a host's stdout and writes them out.
fn collect_piped(
    stdout: ChildStdout,
    framing: OutputFraming,
    output: &Output,
    in_flight: &InFlight,
) -> Collected {
    let mut collected = Collected::default();
    let mut reader = match framing {
        OutputFraming::Rgb24(w, h) => HeldReader::rgb24(stdout, w, h),
        OutputFraming::Y4m => match HeldReader::y4m(stdout) {
            Ok(reader) => reader,
            // Nothing came out (the host failed before its first frame).
            Err(_) => return collected,
        },
    };
    if let Err(e) = agree_on_header(output, reader.framing()) {
        collected.error = Some(e);
        return drain(reader, collected);
    }
    // A frame cut short by the host's death is not written: only whole
    // frames reach the output.
    while let Ok(Some(frame)) = reader.read() {
        answered(output, in_flight);
        if let Err(e) = output.write_host_frame(frame) {
            collected.error = Some(format!("cannot write the output: {e}"));
            return drain(reader, collected);
        }
        collected.frames += 1;
    }
    collected
}

/// Reads the rest of a host's output so that it is not blocked writing.
fn drain(mut reader: HeldReader<ChildStdout>, collected: Collected) -> Collected {
    while let Ok(Some(_)) = reader.read() {}
    collected
}

fn header_text(framing: &Framing) -> String {
    match framing {
        Framing::Y4m { line, .. } => line.clone(),
        Framing::Rgb24 { width, height } => format!("rgb24 {width}x{height}"),
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::supervise::piped::{PipedFrame, Take};
    use std::io::Read;
    use std::os::fd::OwnedFd;

    /// A frame of `len` bytes of `byte`, held in pipes.
    fn held(byte: u8, len: usize) -> Held {
        let (read, write) = rustix::pipe::pipe().unwrap();
        std::thread::spawn(move || {
            let _ = std::fs::File::from(write).write_all(&vec![byte; len]);
        });
        let Take::Whole(payload) = PipedFrame::take(&read, &[], len).unwrap() else {
            panic!("held in pipes")
        };
        Held::Piped {
            line: "FRAME".into(),
            payload,
        }
    }

    /// An output into a pipe whose other end is drained; the drain's bytes.
    fn output() -> (Output, JoinHandle<Vec<u8>>) {
        let (read, write): (OwnedFd, OwnedFd) = rustix::pipe::pipe().unwrap();
        let drain = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            std::fs::File::from(read).read_to_end(&mut bytes).unwrap();
            bytes
        });
        (Output::new(Sink::File(write.into())), drain)
    }

    fn latest_byte(output: &Output) -> u8 {
        lock(&output.latest).as_ref().unwrap().raw().unwrap().data[0]
    }

    #[test]
    fn a_fast_streams_frames_are_given_away_and_a_live_rate_streams_kept() {
        let len = 300_000;
        let (output, drain) = output();
        let frames = [held(1, len), held(2, len), held(3, len)];
        let [first, second, third] = frames;
        let started = Instant::now();
        output.write_host_frame(first).unwrap();
        assert_eq!(latest_byte(&output), 1, "the first frame is kept");
        // Right after it: fast, and one was kept just now (unless this
        // machine took longer than FAST to write both).
        output.write_host_frame(second).unwrap();
        if started.elapsed() < FAST {
            assert_eq!(latest_byte(&output), 1, "given away, not kept");
        }
        // At a live rate (more than FAST after the one before): kept.
        std::thread::sleep(FAST * 2);
        output.write_host_frame(third).unwrap();
        assert_eq!(latest_byte(&output), 3, "a live-rate frame is kept");
        assert_eq!(output.frames.load(Ordering::Relaxed), 3);
        drop(lock(&output.writer).take());
        let written = drain.join().unwrap();
        let mut expected = Vec::new();
        for byte in 1..=3 {
            expected.extend_from_slice(b"FRAME\n");
            expected.extend(std::iter::repeat_n(byte, len));
        }
        assert!(written == expected, "every frame went out whole, in order");
    }

    #[test]
    fn a_frame_from_a_slot_is_written_and_stays_there_as_the_latest() {
        use scope_host::video::slots::SlotOutput;
        let len = 5000;
        let mut slots = OutputSlots::new().unwrap();
        let (doorbell_out, doorbell_in) = rustix::pipe::pipe().unwrap();
        let mut host = SlotOutput::new(
            slots.file().unwrap().into(),
            std::fs::File::from(doorbell_in),
        );
        let filler = std::thread::spawn(move || {
            for byte in 1..=4u8 {
                host.put(len, |bytes| bytes.fill(byte)).unwrap();
            }
        });
        let mut doorbell = std::fs::File::from(doorbell_out);
        assert!(slots.used_by(&doorbell));
        let (output, drain) = output();
        for byte in 1..=4u8 {
            let mut rung = [0u8];
            doorbell.read_exact(&mut rung).unwrap();
            output.write_slot(true, &mut slots, len).unwrap();
            assert_eq!(
                latest_byte(&output),
                byte,
                "the latest is the frame written"
            );
        }
        filler.join().unwrap();
        // The host is gone, its slots' file closed: the latest is still there.
        drop(slots);
        assert_eq!(latest_byte(&output), 4);
        drop(lock(&output.writer).take());
        let written = drain.join().unwrap();
        let mut expected = Vec::new();
        for byte in 1..=4u8 {
            expected.extend_from_slice(b"FRAME\n");
            expected.extend(std::iter::repeat_n(byte, len));
        }
        assert!(written == expected, "every frame went out whole, in order");
    }

    #[test]
    fn a_host_whose_slots_are_not_this_scopectls_is_refused_and_not_waited_for() {
        let slots = OutputSlots::new().unwrap();
        // One page: no slot at all for its frames.
        rustix::fs::ftruncate(slots.file().unwrap(), 4096).unwrap();
        let mut host = Command::new("sh")
            .args(["-c", "printf 'YUV4MPEG2 W2 H2 F30:1\\n'; sleep 30"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (output, _drain) = output();
        let started = Instant::now();
        let collected = collect_slots(
            host.stdout.take().unwrap(),
            OutputFraming::Y4m,
            &output,
            &InFlight::default(),
            slots,
        );
        let waited = started.elapsed();
        let _ = host.kill();
        let _ = host.wait();
        let error = collected.error.unwrap_or_default();
        assert!(error.contains("another version of scopectl"), "{error}");
        assert!(
            waited < Duration::from_secs(10),
            "waited for the host: {waited:?}"
        );
    }
}
