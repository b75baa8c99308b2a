//! Runs a checked plan: a source thread, one thread per pipeline and the sink
//! on the calling thread, joined by bounded channels so that a stream of any
//! length flows through in constant memory.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scope_plugin_api::{Frame, Load, Mode, Params, Pipeline};

use crate::cli::{Format, Input, Output, RunArgs};
use crate::guard::lock;
use crate::live::Live;
use crate::plan::{Plan, SourcePlan, StagePlan};
use crate::stage::{answer, held_to_contract, timed, Answer, Call, Ends, Kept, Rule, Watched};
use crate::video::rgb24::{self, Rgb24Reader};
use crate::video::y4m::{Tags, Y4mReader, Y4mWriter};
use crate::video::{testsrc, Rate};
use crate::Io;
use crate::{control, guard, signals};

/// Frames in flight between two stages. Two keeps every stage busy without
/// holding more than a handful of frames.
const QUEUE: usize = 2;
/// Frame buffers the sink hands back to the source once written, so that
/// reading a frame neither allocates nor clears memory.
const RECYCLED: usize = 8;
/// Calls of a generator that may return no frame in a row before it counts as stuck.
const MAX_EMPTY_CALLS: u32 = 1000;
const DEFAULT_SIZE: (u32, u32) = (512, 512);

type Log = Arc<Mutex<Box<dyn Write + Send>>>;

fn say(log: &Log, message: &str) {
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(log, "{message}");
}

/// Counters for the summary line of one stage.
#[derive(Default, Clone)]
struct Stats {
    name: String,
    /// Frames this stage produced (read, generated, processed, written).
    frames: u64,
    /// Frames that went on unprocessed because the stage's pipeline failed.
    passed: u64,
    busy: Duration,
    failed: bool,
    /// The output's reader went away (`| head`): fewer frames out is theirs.
    closed: bool,
}

enum Reader {
    Y4m(Y4mReader<BufReader<Box<dyn Read + Send>>>),
    Rgb(Rgb24Reader<BufReader<Box<dyn Read + Send>>>),
}

impl Reader {
    fn read(&mut self, buffer: Vec<u8>) -> Result<Option<Frame>, String> {
        match self {
            Reader::Y4m(r) => r.read_frame_into(buffer),
            Reader::Rgb(r) => r.read_frame_into(buffer),
        }
        .map_err(|e| format!("cannot read the input {e}"))
    }
}

/// Runs the plan; returns the exit status: 128 + the signal when SIGINT or
/// SIGTERM stopped it.
pub fn run(plan: Plan, args: &RunArgs, io: Io) -> i32 {
    let log: Log = Arc::new(Mutex::new(io.stderr));
    if io.handle_signals {
        signals::install();
    }
    match run_inner(plan, args, io.stdin, io.stdout, io.stdout_is_terminal, &log) {
        Ok(ok) => match signals::received() {
            Some(signal) => 128 + signal,
            None => i32::from(!ok),
        },
        Err(message) => {
            say(&log, &format!("error: {message}"));
            1
        }
    }
}

// The host keeps its dependencies lean (no fs-err); its messages name the paths.
#[allow(clippy::disallowed_methods)]
fn run_inner(
    plan: Plan,
    args: &RunArgs,
    stdin: Box<dyn Read + Send>,
    stdout: Box<dyn Write + Send>,
    stdout_is_terminal: bool,
    log: &Log,
) -> Result<bool, String> {
    // Open the input first: a y4m stream decides the frame size.
    let mut tags = Tags::default();
    let (mut reader, size, rate) = match &plan.source {
        SourcePlan::Stream(input, format) => {
            let raw: Box<dyn Read + Send> =
                match input {
                    Input::Stdin => stdin,
                    Input::Path(path) => Box::new(File::open(path).map_err(|e| {
                        format!("cannot open input `{}`: {e}", path.to_string_lossy())
                    })?),
                    Input::TestSrc => unreachable!("planned as a test source"),
                };
            let buffered = BufReader::with_capacity(1 << 20, raw);
            match format {
                Format::Y4m => {
                    let r = Y4mReader::new(buffered)
                        .map_err(|e| format!("cannot read the input {e}"))?;
                    let h = r.header();
                    tags = h.tags;
                    if let Some(fps) = args.fps.filter(|fps| *fps != h.rate) {
                        eprintln!(
                            "warning: --fps {}:{} replaces the input's frame rate {}:{}; the frames are not retimed, only labelled",
                            fps.num, fps.den, h.rate.num, h.rate.den
                        );
                    }
                    (
                        Some(Reader::Y4m(r)),
                        (h.width, h.height),
                        args.fps.unwrap_or(h.rate),
                    )
                }
                Format::Rgb24 => {
                    let (w, h) = args.size.expect("checked by the plan");
                    let rate = args.fps.unwrap_or(Rate::new(30, 1));
                    (
                        Some(Reader::Rgb(Rgb24Reader::new(buffered, w, h))),
                        (w, h),
                        rate,
                    )
                }
            }
        }
        SourcePlan::TestSrc | SourcePlan::Generator => (
            None,
            args.size.unwrap_or(DEFAULT_SIZE),
            args.fps.unwrap_or(Rate::new(30, 1)),
        ),
    };
    let sink = Sink::open(
        &args.output,
        args.output_format,
        stdout,
        stdout_is_terminal,
        rate,
        tags,
    )?;

    // Load every pipeline before the first frame, so a bad load fails fast.
    let mut loaded = Vec::new();
    for stage in &plan.stages {
        let load = Load {
            width: size.0,
            height: size.1,
            params: stage.load.clone(),
        };
        let pipeline = match guard::catch(|| stage.pipeline.entry.load(&load)) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(format!("pipeline `{}` failed to load: {e}", stage.id())),
            Err(panic) => {
                return Err(format!(
                    "pipeline `{}` failed to load: it {panic}",
                    stage.id()
                ))
            }
        };
        loaded.push(pipeline);
    }
    let live = Live::new(
        &args.pipelines,
        plan.stages
            .iter()
            .map(|s| (s.pipeline.entry.config().clone(), s.runtime.clone()))
            .collect(),
    );
    if let Some(path) = &args.control {
        control::serve(Path::new(path), live.clone())?;
    }
    let sink = Arc::new(Mutex::new(sink));
    stop_at_once_on_a_second_signal(sink.clone(), log.clone());

    // Frames in must equal frames out, unless a pipeline declared otherwise.
    let counts_are_kept = plan
        .stages
        .iter()
        .all(|s| !s.pipeline.entry.config().frame_count_changes());
    let started = Instant::now();
    let limit = args.frames;
    let mut stages = plan.stages.into_iter().zip(loaded).enumerate();
    let (first_tx, mut rx) = sync_channel::<Frame>(QUEUE);
    let recycled = &Recycled::default();
    let outcome = std::thread::scope(|scope| {
        let source = scope.spawn({
            let log = log.clone();
            let live = &*live;
            let generator = matches!(plan.source, SourcePlan::Generator)
                .then(|| stages.next().expect("a chain"));
            let source_name = match (&generator, &plan.source) {
                (Some((_, (stage, _))), _) => stage.id().to_owned(),
                (None, SourcePlan::TestSrc) => "testsrc".into(),
                _ => "input".into(),
            };
            move || {
                let mut stats = Stats {
                    name: source_name,
                    ..Stats::default()
                };
                match generator {
                    Some((_, (stage, pipeline))) => generate(
                        stage,
                        pipeline,
                        (size, rate),
                        limit,
                        &first_tx,
                        &mut stats,
                        &log,
                        live,
                    ),
                    None => read_source(
                        match reader.take() {
                            Some(reader) => Frames::Read(reader, recycled),
                            None => Frames::TestSrc(size.0, size.1),
                        },
                        (limit, rate),
                        &first_tx,
                        &mut stats,
                        &log,
                        live,
                    ),
                }
                stats
            }
        });
        // Video stages run on threads of their own that the run does not
        // wait for once the watchdog gave up on them (a hung call never
        // returns).
        let mut workers = Vec::new();
        let mut watched = Vec::new();
        for (index, (stage, pipeline)) in stages {
            debug_assert_eq!(stage.mode, Mode::Video);
            let (tx, next_rx) = sync_channel::<Frame>(QUEUE);
            let ends = Ends {
                rx: std::mem::replace(&mut rx, next_rx),
                tx,
            };
            let work = StageWork {
                id: stage.id().to_owned(),
                rule: Rule {
                    changes_frame_count: stage.pipeline.entry.config().frame_count_changes(),
                },
                runtime: stage.runtime.clone(),
                index,
            };
            let (log, live, watch) = (log.clone(), live.clone(), Arc::new(Watched::default()));
            watched.push((work.id.clone(), index, watch.clone()));
            workers.push(std::thread::spawn(move || {
                transform(work, pipeline, ends, &log, &live, &watch)
            }));
        }
        let done = Arc::new(AtomicBool::new(false));
        let watching = args.frame_timeout.map(|deadline| {
            let (stages, done, live) = (watched.clone(), done.clone(), &*live);
            scope.spawn(move || watchdog(scope, stages, deadline, (live, log), done))
        });
        let sink_stats = drain(&sink, rx, recycled, log, &live);
        done.store(true, Ordering::SeqCst);
        if let Some(watchdog) = &watching {
            watchdog.thread().unpark();
        }
        let mut all = vec![source.join().unwrap_or_default()];
        for (worker, (name, index, watch)) in workers.into_iter().zip(&watched) {
            all.push(if watch.abandoned() {
                given_up(name, &live, *index)
            } else {
                worker.join().unwrap_or_default()
            });
        }
        all.push(sink_stats);
        all
    });
    summarize(&outcome, started.elapsed(), log);
    let lost = lost_frames(&outcome, counts_are_kept);
    if args.summary_json {
        say(log, &summary_json(&outcome, lost, started.elapsed()));
    }
    if lost > 0 {
        say(
            log,
            &format!(
                "error: {lost} of {} frames were lost on the way through the chain",
                outcome[0].frames
            ),
        );
    }
    if let Some(path) = &args.control {
        let _ = std::fs::remove_file(path);
    }
    if let Some(signal) = signals::received() {
        say(
            log,
            &format!(
                "stopped by {}: the input was closed and the frames in flight were written",
                signals::name(signal)
            ),
        );
    }
    Ok(lost == 0 && outcome.iter().all(|s| !s.failed))
}

/// Frames that went in and did not come out, when every pipeline keeps one
/// frame out per frame in (0 when one declared it changes the count, or
/// when the output's reader went away).
fn lost_frames(stats: &[Stats], counts_are_kept: bool) -> u64 {
    match (counts_are_kept, stats.first(), stats.last()) {
        (true, Some(first), Some(output)) if !output.closed => {
            first.frames.saturating_sub(output.frames)
        }
        _ => 0,
    }
}

/// The bytes of written frames, kept to hold the next frames read. Last in,
/// first out: the buffer written last is the likeliest to be in a cache.
#[derive(Default)]
struct Recycled(Mutex<Vec<Vec<u8>>>);

impl Recycled {
    /// A buffer to read a frame into (empty when none is waiting).
    fn take(&self) -> Vec<u8> {
        lock(&self.0).pop().unwrap_or_default()
    }

    /// Keeps `bytes` for a later frame, unless enough are waiting.
    fn give(&self, bytes: Vec<u8>) {
        let mut waiting = lock(&self.0);
        if waiting.len() < RECYCLED {
            waiting.push(bytes);
        }
    }
}

/// Where the source's frames come from.
enum Frames<'a> {
    /// The input stream; the buffers of written frames come back through
    /// [`Recycled`] to hold the next ones.
    Read(Reader, &'a Recycled),
    /// Test frames of this size.
    TestSrc(u32, u32),
}

fn read_source(
    mut input: Frames<'_>,
    (limit, rate): (Option<u64>, Rate),
    tx: &SyncSender<Frame>,
    stats: &mut Stats,
    log: &Log,
    live: &Live,
) {
    while limit.is_none_or(|n| stats.frames < n) && signals::received().is_none() {
        let t = Instant::now();
        let frame = match &mut input {
            Frames::Read(r, recycled) => match r.read(recycled.take()) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    say(log, &format!("error: {e}"));
                    stats.failed = true;
                    break;
                }
            },
            Frames::TestSrc(width, height) => testsrc::frame(*width, *height, stats.frames),
        };
        let frame = frame.with_timing(stats.frames, rate.time_of(stats.frames));
        stats.busy += t.elapsed();
        stats.frames += 1;
        live.frames_in.fetch_add(1, Ordering::Relaxed);
        if tx.send(frame).is_err() {
            break;
        }
    }
}

fn report_failure(log: &Log, stats: &mut Stats, what: &str, frame: u64) {
    say(
        log,
        &format!(
            "error: pipeline `{}` {what} (at frame {frame}); it was unloaded",
            stats.name
        ),
    );
    stats.failed = true;
}

/// Calls a pipeline's `process`, turning an error or a panic into a message.
fn call(
    pipeline: &mut Box<dyn Pipeline>,
    input: Vec<Frame>,
    params: &Params,
) -> Result<Vec<Frame>, String> {
    match guard::catch(|| pipeline.process(input, params)) {
        Ok(Ok(frames)) => Ok(frames),
        Ok(Err(e)) => Err(format!("failed: {e}")),
        Err(panic) => Err(panic),
    }
}

#[allow(clippy::too_many_arguments)]
fn generate(
    stage: StagePlan,
    mut pipeline: Box<dyn Pipeline>,
    (size, rate): ((u32, u32), Rate),
    limit: Option<u64>,
    tx: &SyncSender<Frame>,
    stats: &mut Stats,
    log: &Log,
    live: &Live,
) {
    stats.name = stage.id().to_owned();
    let mut empty_calls = 0;
    let (mut runtime, mut seen) = (stage.runtime, 0);
    'calls: while limit.is_none_or(|n| stats.frames < n) && signals::received().is_none() {
        if let Some(changed) = live.changed(0, &mut seen) {
            runtime = changed;
        }
        let t = Instant::now();
        let result = call(&mut pipeline, Vec::new(), &runtime);
        stats.busy += t.elapsed();
        let frames = match result {
            Ok(frames) => frames,
            Err(e) => return report_failure(log, stats, &e, stats.frames + 1),
        };
        empty_calls = if frames.is_empty() {
            empty_calls + 1
        } else {
            0
        };
        if empty_calls == MAX_EMPTY_CALLS {
            let what = format!("returned no frame in {MAX_EMPTY_CALLS} calls in a row");
            return report_failure(log, stats, &what, stats.frames + 1);
        }
        if let Some(other) = frames.iter().find(|f| (f.width(), f.height()) != size) {
            let what = format!(
                "broke the frame contract: it returned a {}x{} frame; it was loaded for {}x{}",
                other.width(),
                other.height(),
                size.0,
                size.1
            );
            return report_failure(log, stats, &what, stats.frames + 1);
        }
        for frame in frames {
            let frame = frame.with_timing(stats.frames, rate.time_of(stats.frames));
            if limit.is_some_and(|n| stats.frames >= n) || tx.send(frame).is_err() {
                break 'calls;
            }
            stats.frames += 1;
            live.stages[0].frames.fetch_add(1, Ordering::Relaxed);
        }
    }
    drop_quietly(pipeline);
}

/// What a video stage's thread needs of its plan (owned: the thread may
/// outlive the run when its pipeline hangs).
struct StageWork {
    id: String,
    rule: Rule,
    runtime: Params,
    index: usize,
}

/// Feeds a video-mode pipeline the frames its `prepare` asks for, held to
/// the frame contract (see [`crate::stage`]): a pipeline that fails is
/// unloaded, the input of the failed call goes on unchanged, and so do all
/// later frames, so the rest of the chain keeps running and no frame is lost.
fn transform(
    work: StageWork,
    pipeline: Box<dyn Pipeline>,
    mut ends: Ends,
    log: &Log,
    live: &Live,
    watched: &Watched,
) -> Stats {
    let StageWork {
        id,
        rule,
        mut runtime,
        index,
    } = work;
    let mut seen = 0;
    let mut stats = Stats {
        name: id,
        ..Stats::default()
    };
    let mut pipeline = Some(pipeline);
    let mut kept = Kept::default();
    let mut received = 0u64;
    loop {
        let Some(active) = pipeline.as_mut() else {
            // Unloaded: pass frames through.
            pass_through(ends, &live.stages[index].passed, &mut stats.passed);
            return stats;
        };
        if let Some(changed) = live.changed(index, &mut seen) {
            runtime = changed;
        }
        let call = Call::Prepare(runtime.clone());
        let Some((wanted, back)) = watched.during(ends, &[], || answer(active, call)) else {
            return stats;
        };
        ends = back;
        let wanted = match wanted {
            Ok(Answer::Wanted(wanted)) => wanted,
            Ok(Answer::Frames(_)) => unreachable!("prepare answers how many frames"),
            Err(e) => {
                report_failure(log, &mut stats, &e, received + 1);
                if let Some(failed) = pipeline.take() {
                    drop_quietly(failed);
                }
                continue;
            }
        };
        let mut input = Vec::with_capacity(wanted);
        let mut ended = false;
        while input.len() < wanted && !ended {
            match ends.rx.recv() {
                Ok(frame) => input.push(frame),
                Err(_) => ended = true,
            }
        }
        received += input.len() as u64;
        // A change made while this stage waited applies to these frames.
        if let Some(changed) = live.changed(index, &mut seen) {
            runtime = changed;
        }
        kept.keep(&mut input);
        // The end of the input: the incomplete batch (often none) goes to
        // `finish`, which flushes what the pipeline holds.
        let call = match ended {
            true => Call::Finish(input, runtime.clone()),
            false => Call::Process(input, runtime.clone()),
        };
        let watched_call = timed(&mut stats.busy, || {
            watched.during(ends, kept.frames(), || answer(active, call))
        });
        let Some((answered, back)) = watched_call else {
            return stats;
        };
        ends = back;
        let (frames, processed) = match held_to_contract(answered, &kept, rule) {
            Ok(mut frames) => {
                kept.release(&mut frames);
                (frames, true)
            }
            Err(e) => {
                report_failure(log, &mut stats, &e, received);
                if let Some(failed) = pipeline.take() {
                    drop_quietly(failed);
                }
                let unchanged = kept.take();
                stats.passed += unchanged.len() as u64;
                live.stages[index]
                    .passed
                    .fetch_add(unchanged.len() as u64, Ordering::Relaxed);
                (unchanged, false)
            }
        };
        for frame in frames {
            if processed {
                stats.frames += 1;
                live.stages[index].frames.fetch_add(1, Ordering::Relaxed);
            }
            if ends.tx.send(frame).is_err() {
                return stats;
            }
        }
        if ended {
            return stats;
        }
    }
}

/// Passes every frame that reaches a stage on unchanged, counting them.
fn pass_through(ends: Ends, live_count: &AtomicU64, count: &mut u64) {
    for frame in ends.rx.iter() {
        *count += 1;
        live_count.fetch_add(1, Ordering::Relaxed);
        if ends.tx.send(frame).is_err() {
            break;
        }
    }
}

/// Gives up on calls that run past `deadline` (`--frame-timeout`): the
/// stage is reported and unloaded, the call's input goes on unchanged, and
/// a thread of the run carries the rest of the stream past the stage.
fn watchdog<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    stages: Vec<(String, usize, Arc<Watched>)>,
    deadline: Duration,
    (live, log): (&'scope Live, &'scope Log),
    done: Arc<AtomicBool>,
) {
    let tick = (deadline / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
    while !done.load(Ordering::SeqCst) {
        // Woken at once when the run ends.
        std::thread::park_timeout(tick);
        for (name, index, watched) in &stages {
            let Some((input, ends)) = watched.give_up(deadline) else {
                continue;
            };
            let frame = input.last().map_or(0, |f| f.index() + 1);
            say(
                log,
                &format!(
                    "error: pipeline `{name}` did not return within {} s (--frame-timeout) (at frame {frame}); it was unloaded",
                    deadline.as_secs_f64()
                ),
            );
            let passed = &live.stages[*index].passed;
            scope.spawn(move || {
                passed.fetch_add(input.len() as u64, Ordering::Relaxed);
                for frame in input {
                    if ends.tx.send(frame).is_err() {
                        return;
                    }
                }
                pass_through(ends, passed, &mut 0);
            });
        }
    }
}

/// The counters of a stage the watchdog gave up on, from the live ones
/// (its thread may never return its own).
fn given_up(name: &str, live: &Live, index: usize) -> Stats {
    let stage = &live.stages[index];
    Stats {
        name: name.to_owned(),
        frames: stage.frames.load(Ordering::Relaxed),
        passed: stage.passed.load(Ordering::Relaxed),
        failed: true,
        ..Stats::default()
    }
}

fn drop_quietly(pipeline: Box<dyn Pipeline>) {
    let _ = guard::catch(move || drop(pipeline));
}

enum SinkKind {
    Y4m(Option<Y4mWriter<BufWriter<Box<dyn Write + Send>>>>),
    Rgb(BufWriter<Box<dyn Write + Send>>),
    Null,
}

struct Sink {
    kind: SinkKind,
    // The writer is created with the first frame's size.
    output: Option<BufWriter<Box<dyn Write + Send>>>,
    rate: Rate,
    tags: Tags,
    size: Option<(u32, u32)>,
}

impl Sink {
    #[allow(clippy::disallowed_methods)] // see `run_inner`
    fn open(
        output: &Output,
        format: Format,
        stdout: Box<dyn Write + Send>,
        stdout_is_terminal: bool,
        rate: Rate,
        tags: Tags,
    ) -> Result<Sink, String> {
        let writer: Box<dyn Write + Send> = match output {
            Output::Null => return Ok(Sink { kind: SinkKind::Null, output: None, rate, tags, size: None }),
            Output::Stdout if stdout_is_terminal => {
                return Err("refusing to write video to a terminal: add `--output FILE`, pipe it (`| ffplay -`), or use `--output null`".into())
            }
            Output::Stdout => stdout,
            Output::Path(path) => Box::new(
                File::create(path).map_err(|e| format!("cannot create output `{}`: {e}", path.to_string_lossy()))?,
            ),
        };
        let buffered = BufWriter::with_capacity(1 << 20, writer);
        Ok(match format {
            Format::Y4m => Sink {
                kind: SinkKind::Y4m(None),
                output: Some(buffered),
                rate,
                tags,
                size: None,
            },
            Format::Rgb24 => Sink {
                kind: SinkKind::Rgb(buffered),
                output: None,
                rate,
                tags,
                size: None,
            },
        })
    }

    fn write(&mut self, frame: &Frame) -> io::Result<()> {
        let size = (frame.width(), frame.height());
        if *self.size.get_or_insert(size) != size {
            let (w, h) = self.size.unwrap_or_default();
            return Err(io::Error::other(format!(
                "a pipeline changed the frame size from {w}x{h} to {}x{}; an output stream has one size",
                size.0, size.1
            )));
        }
        match &mut self.kind {
            SinkKind::Null => Ok(()),
            SinkKind::Rgb(out) => rgb24::write_frame(out, frame),
            SinkKind::Y4m(writer) => {
                if writer.is_none() {
                    let out = self.output.take().expect("opened with an output");
                    *writer = Some(Y4mWriter::new(out, size.0, size.1, self.rate, self.tags)?);
                }
                writer.as_mut().expect("created above").write_frame(frame)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.kind {
            SinkKind::Null => Ok(()),
            SinkKind::Rgb(out) => out.flush(),
            SinkKind::Y4m(Some(writer)) => writer.flush(),
            SinkKind::Y4m(None) => Ok(()),
        }
    }
}

/// Writes every frame that reaches the sink; the lock is held per frame, so
/// that a second stop signal ends the output at a frame boundary.
fn drain(
    sink: &Mutex<Sink>,
    rx: Receiver<Frame>,
    recycled: &Recycled,
    log: &Log,
    live: &Live,
) -> Stats {
    let mut stats = Stats {
        name: "output".into(),
        ..Stats::default()
    };
    let mut result = Ok(());
    for frame in rx.iter() {
        let t = Instant::now();
        // Flushed per frame: a live consumer (a player, the supervisor of
        // `scopectl run`) gets each frame as soon as it is made.
        result = {
            let mut sink = lock(sink);
            sink.write(&frame).and_then(|()| sink.flush())
        };
        // Written: the bytes can hold a later frame (or are dropped when
        // enough are waiting already).
        recycled.give(frame.into_data());
        stats.busy += t.elapsed();
        if result.is_err() {
            break;
        }
        stats.frames += 1;
        live.frames_out.fetch_add(1, Ordering::Relaxed);
    }
    if result.is_ok() {
        result = lock(sink).flush();
    }
    match result {
        Ok(()) => {}
        // The reader went away (`| head`, a closed player): not our failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            say(log, "note: the output was closed by its reader");
            stats.closed = true;
        }
        Err(e) => {
            say(log, &format!("error: cannot write the output: {e}"));
            stats.failed = true;
        }
    }
    stats
}

/// After a first stop signal the input stops and the frames in flight drain
/// (see `read_source`); a second one ends the run at once: the output is
/// flushed at the frame boundary the sink is at, and the host exits.
fn stop_at_once_on_a_second_signal(sink: Arc<Mutex<Sink>>, log: Log) {
    std::thread::spawn(move || {
        while signals::count() < 2 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let signal = signals::received().unwrap_or(15);
        // A sink stuck on a consumer that reads nothing cannot reach a
        // boundary: give it a moment, then go anyway.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if let Ok(mut sink) = sink.try_lock() {
                let _ = sink.flush();
                break;
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        say(
            &log,
            &format!(
                "stopped at once by a second {}; frames in flight were dropped",
                signals::name(signal)
            ),
        );
        std::process::exit(128 + signal);
    });
}

fn summarize(stats: &[Stats], elapsed: Duration, log: &Log) {
    let frames = stats.last().map_or(0, |s| s.frames);
    let seconds = elapsed.as_secs_f64();
    let fps = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let mut lines = vec![format!(
        "{frames} frames in {seconds:.2} s ({:.1} fps)",
        fps(frames, seconds)
    )];
    let width = stats.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in stats {
        let busy = s.busy.as_secs_f64();
        let status = if s.failed { "  FAILED" } else { "" };
        let passed = if s.passed > 0 {
            format!("  {} passed through unprocessed", s.passed)
        } else {
            String::new()
        };
        lines.push(format!(
            "  {:<width$}  {:>6} frames  {busy:>7.3} s busy  {:>8.1} fps{status}{passed}",
            s.name,
            s.frames,
            fps(s.frames, busy)
        ));
    }
    say(log, &lines.join("\n"));
}

/// The summary as one JSON line: frames in, out, passed through and lost,
/// and each stage's frames, frames passed through and whether it failed.
fn summary_json(stats: &[Stats], lost: u64, elapsed: Duration) -> String {
    use scope_plugin_api::json::Json;
    let count = |n: u64| Json::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let stages = stats.iter().map(|s| {
        Json::object([
            ("name", Json::str(&s.name)),
            ("frames", count(s.frames)),
            ("passed", count(s.passed)),
            ("failed", Json::Bool(s.failed)),
        ])
    });
    Json::object([
        ("version", Json::Int(1)),
        ("frames_in", count(stats.first().map_or(0, |s| s.frames))),
        ("frames_out", count(stats.last().map_or(0, |s| s.frames))),
        ("passed", count(stats.iter().map(|s| s.passed).sum())),
        ("lost", count(lost)),
        ("seconds", Json::Float(elapsed.as_secs_f64())),
        ("stages", Json::Array(stages.collect())),
    ])
    .to_string()
}

/// True when standard output is a terminal.
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}
