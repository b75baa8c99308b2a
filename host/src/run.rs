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
use crate::stage::{
    answer, held_to_contract, sized, timed, Answer, Call, Ends, Kept, Rule, Tally, Watched,
};
use crate::video::rgb24::{self, Rgb24Reader};
use crate::video::scale::fit;
#[cfg(unix)]
use crate::video::slots::SlotOutput;
use crate::video::y4m::{self, Tags, Y4mReader, Y4mWriter};
use crate::video::{testsrc, Rate};
use crate::Io;
use crate::{control, guard, last_words, plugin_log, signals};

/// Frames waiting between two stages (each stage also holds the one it
/// works on). One keeps every stage busy: against two, a 1080p `invert`
/// ran 4 % faster for 7 % less CPU and 21 % less memory (57 → 45 MiB; three
/// `invert`s in a chain 8 % faster, 105 → 81 MiB), as fewer frames in
/// flight stay in the caches.
const QUEUE: usize = 1;
/// Frame buffers the sink hands back to the source once written, so that
/// reading a frame neither allocates nor clears memory.
const RECYCLED: usize = 8;
/// Calls of a generator that may return no frame in a row before it counts as stuck.
const MAX_EMPTY_CALLS: u32 = 1000;
const DEFAULT_SIZE: (u32, u32) = (512, 512);
/// The largest frame side a pipeline may declare for its output.
const MAX_SIDE: u32 = 16384;

/// The run's messages (stderr, or a buffer in tests).
pub(crate) type Log = Arc<Mutex<Box<dyn Write + Send>>>;

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
    /// Frames a pipeline that changes the count stayed short of its
    /// declared ratio by the end of the stream.
    lost: u64,
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
    plugin_log::install();
    if io.handle_signals {
        crate::video::widen_own_pipes();
        signals::install();
        let names = plan.stages.iter().map(|s| {
            let plugin = &s.pipeline;
            format!(
                "pipeline `{}` of plugin {} {}",
                s.id(),
                plugin.plugin,
                plugin.plugin_version
            )
        });
        last_words::prepare(names.collect());
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
                    #[cfg(unix)]
                    Input::Stdin => {
                        crate::video::by_offset::stdin_stream(stdin, *format == Format::Y4m)
                    }
                    #[cfg(not(unix))]
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
    let mut sink = Sink::open(
        &args.output,
        args.output_format,
        stdout,
        stdout_is_terminal,
        rate,
        tags,
    )?;

    // Load every pipeline before the first frame, so a bad load fails fast;
    // each is loaded for the size the one before it declared it returns.
    let mut loaded = Vec::new();
    let mut rules = Vec::new();
    let mut loaded_size = size;
    for stage in &plan.stages {
        let failed = |what: String| format!("pipeline `{}` failed to load: {what}", stage.id());
        let load = Load {
            width: loaded_size.0,
            height: loaded_size.1,
            params: stage.load.clone(),
            artifacts: crate::artifacts::resolve(stage.pipeline.artifacts).map_err(failed)?,
        };
        let pipeline = match guard::catch(|| stage.pipeline.entry.load(&load)) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(failed(e.to_string())),
            Err(panic) => return Err(failed(format!("it {panic}"))),
        };
        let output = guard::catch(|| pipeline.output_size(&load))
            .map_err(|panic| failed(format!("its output_size {panic}")))?;
        if output.0 == 0 || output.1 == 0 || output.0 > MAX_SIDE || output.1 > MAX_SIDE {
            return Err(failed(format!(
                "it declared an output size of {}x{}; each side must be 1 to {MAX_SIDE}",
                output.0, output.1
            )));
        }
        let frames_out_per_in = stage.pipeline.entry.config().frames_out_per_in();
        if let Some((out, per)) = frames_out_per_in {
            sink.rate = sink.rate.scaled(out, per);
        }
        rules.push(Rule {
            frames_out_per_in,
            output,
        });
        loaded.push(pipeline);
        loaded_size = output;
    }
    let live = Live::new(
        &args.pipelines,
        plan.stages
            .iter()
            .map(|s| {
                let config = s.pipeline.entry.config().clone();
                (config, s.load.clone(), s.runtime.clone())
            })
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
    let mut stages = plan
        .stages
        .into_iter()
        .zip(loaded.into_iter().zip(rules))
        .enumerate();
    let (first_tx, mut rx) = sync_channel::<Frame>(QUEUE);
    let recycled = &Recycled::default();
    let generator =
        matches!(plan.source, SourcePlan::Generator).then(|| stages.next().expect("a chain"));
    let outcome = std::thread::scope(|scope| {
        // Pipelines run on threads of their own that the run does not wait
        // for once the watchdog gave up on them (a hung call never returns).
        let mut workers = Vec::new();
        let mut watched = Vec::new();
        let mut watch = |work: &StageWork| {
            let watch = Arc::new(Watched::default());
            watched.push(WatchedStage {
                name: work.id.clone(),
                index: work.index,
                output: work.rule.output,
                watch: watch.clone(),
            });
            (log.clone(), live.clone(), watch)
        };
        let reading = match generator {
            Some((index, (stage, (pipeline, rule)))) => {
                let work = StageWork::of(&stage, rule, index, args.plugin_lines());
                let (log, live, watch) = watch(&work);
                let tx = first_tx;
                workers.push(std::thread::spawn(move || {
                    generate(work, pipeline, (rate, limit), tx, &log, &live, &watch)
                }));
                None
            }
            None => Some(scope.spawn({
                let log = log.clone();
                let live = &*live;
                let name = match plan.source {
                    SourcePlan::TestSrc => "testsrc",
                    _ => "input",
                };
                move || {
                    let mut stats = Stats {
                        name: name.into(),
                        ..Stats::default()
                    };
                    let frames = match reader.take() {
                        Some(reader) => Frames::Read(reader, recycled),
                        None => Frames::TestSrc(size.0, size.1),
                    };
                    read_source(frames, (limit, rate), &first_tx, &mut stats, &log, live);
                    stats
                }
            })),
        };
        for (index, (stage, (pipeline, rule))) in stages {
            debug_assert_eq!(stage.mode, Mode::Video);
            let (tx, next_rx) = sync_channel::<Frame>(QUEUE);
            let ends = Ends {
                rx: std::mem::replace(&mut rx, next_rx),
                tx,
            };
            let work = StageWork::of(&stage, rule, index, args.plugin_lines());
            let (log, live, watch) = watch(&work);
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
        let mut all: Vec<Stats> = reading
            .map(|reader| reader.join().unwrap_or_default())
            .into_iter()
            .collect();
        for (worker, stage) in workers.into_iter().zip(&watched) {
            all.push(if stage.watch.abandoned() {
                given_up(&stage.name, &live, stage.index)
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

/// Frames lost on the way: when every pipeline keeps one frame out per
/// frame in, those that went in and did not come out (none when the
/// output's reader went away); otherwise the frames each pipeline that
/// changes the count stayed short of its declared ratio.
fn lost_frames(stats: &[Stats], counts_are_kept: bool) -> u64 {
    match (counts_are_kept, stats.first(), stats.last()) {
        (true, Some(first), Some(output)) if !output.closed => {
            first.frames.saturating_sub(output.frames)
        }
        (true, ..) => 0,
        (false, ..) => stats.iter().map(|s| s.lost).sum(),
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

/// Calls a text-mode pipeline for frames until the limit, a stop signal or
/// the end of the stream's reader; held to its declared size, and to the
/// deadline by the watchdog like any stage (with no input to pass on, a
/// call given up on ends the stream).
fn generate(
    work: StageWork,
    mut pipeline: Box<dyn Pipeline>,
    (rate, limit): (Rate, Option<u64>),
    tx: SyncSender<Frame>,
    log: &Log,
    live: &Live,
    watched: &Watched,
) -> Stats {
    let (rule, mut runtime, index) = (work.rule, work.runtime.clone(), work.index);
    let mut stats = work.on_this_thread(log, live);
    // No input: a generator's receiving end is closed from the start.
    let mut ends = Ends {
        rx: sync_channel(0).1,
        tx,
    };
    let (mut empty_calls, mut seen) = (0, 0);
    'calls: while limit.is_none_or(|n| stats.frames < n) && signals::received().is_none() {
        if let Some(changed) = live.changed(index, &mut seen) {
            runtime = changed;
        }
        last_words::calling(index);
        let next = stats.frames + 1;
        let call = Call::Process(Vec::new(), runtime.clone());
        let watched_call = timed(&mut stats.busy, &live.stages[index].busy_us, || {
            watched.during(ends, &[], || answer(&mut pipeline, call))
        });
        let Some((answered, back)) = watched_call else {
            return stats;
        };
        ends = back;
        let frames = match answered {
            Ok(Answer::Frames(frames)) => frames,
            Ok(Answer::Wanted(_)) => unreachable!("process answers frames"),
            Err(e) => {
                report_failure(log, &mut stats, &e, next);
                break;
            }
        };
        empty_calls = if frames.is_empty() {
            empty_calls + 1
        } else {
            0
        };
        if empty_calls == MAX_EMPTY_CALLS {
            let what = format!("returned no frame in {MAX_EMPTY_CALLS} calls in a row");
            report_failure(log, &mut stats, &what, next);
            break;
        }
        let frames = match sized(frames, rule.output) {
            Ok(frames) => frames,
            Err(what) => {
                report_failure(log, &mut stats, &what, next);
                break;
            }
        };
        for frame in frames {
            let frame = frame.with_timing(stats.frames, rate.time_of(stats.frames));
            if limit.is_some_and(|n| stats.frames >= n) || ends.tx.send(frame).is_err() {
                break 'calls;
            }
            stats.frames += 1;
            live.stages[index].frames.fetch_add(1, Ordering::Relaxed);
        }
    }
    drop_quietly(pipeline);
    stats
}

/// What a video stage's thread needs of its plan (owned: the thread may
/// outlive the run when its pipeline hangs).
struct StageWork {
    id: String,
    rule: Rule,
    runtime: Params,
    index: usize,
    /// Which of the plugin's log lines are shown.
    shown: plugin_log::Shown,
}

impl StageWork {
    fn of(stage: &StagePlan, rule: Rule, index: usize, shown: plugin_log::Shown) -> StageWork {
        StageWork {
            id: stage.id().to_owned(),
            rule,
            runtime: stage.runtime.clone(),
            index,
            shown,
        }
    }

    /// Tells the crash handler and the plugin log which stage this thread
    /// runs; the stage's counters, empty.
    fn on_this_thread(self, log: &Log, live: &Live) -> Stats {
        plugin_log::on_this_thread(&self.id, (log, &live.log), self.shown);
        last_words::running(self.index);
        Stats {
            name: self.id,
            ..Stats::default()
        }
    }
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
    let (rule, mut runtime, index) = (work.rule, work.runtime.clone(), work.index);
    let mut stats = work.on_this_thread(log, live);
    let mut seen = 0;
    let mut pipeline = Some(pipeline);
    let mut kept = Kept::default();
    let mut tally = Tally::default();
    let mut received = 0u64;
    loop {
        let Some(active) = pipeline.as_mut() else {
            // Unloaded: pass frames through.
            let passed = &live.stages[index].passed;
            pass_through(ends, rule.output, passed, &mut stats.passed);
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
        last_words::calling(index);
        let watched_call = timed(&mut stats.busy, &live.stages[index].busy_us, || {
            watched.during(ends, kept.frames(), || answer(active, call))
        });
        let Some((answered, back)) = watched_call else {
            return stats;
        };
        ends = back;
        let (frames, processed) = match held_to_contract(answered, &kept, rule, &mut tally) {
            Ok(mut frames) => {
                kept.release(&mut frames);
                (frames, true)
            }
            Err(e) => {
                report_failure(log, &mut stats, &e, received);
                if let Some(failed) = pipeline.take() {
                    drop_quietly(failed);
                }
                let unchanged = kept.take(rule.output);
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
            if let Some((short, what)) = tally.shortfall(rule).filter(|_| processed) {
                report_failure(log, &mut stats, &what, received);
                stats.lost = short;
            }
            return stats;
        }
    }
}

/// Passes every frame that reaches a stage on unchanged (at the size the
/// rest of the chain was loaded for), counting them.
fn pass_through(ends: Ends, size: (u32, u32), live_count: &AtomicU64, count: &mut u64) {
    for frame in ends.rx.iter() {
        *count += 1;
        live_count.fetch_add(1, Ordering::Relaxed);
        if ends.tx.send(fit(frame, size)).is_err() {
            break;
        }
    }
}

/// A video stage as the watchdog sees it.
#[derive(Clone)]
struct WatchedStage {
    name: String,
    index: usize,
    /// The size the rest of the chain was loaded for.
    output: (u32, u32),
    watch: Arc<Watched>,
}

/// Gives up on calls that run past `deadline` (`--frame-timeout`): the
/// stage is reported and unloaded, the call's input goes on unchanged, and
/// a thread of the run carries the rest of the stream past the stage.
fn watchdog<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    stages: Vec<WatchedStage>,
    deadline: Duration,
    (live, log): (&'scope Live, &'scope Log),
    done: Arc<AtomicBool>,
) {
    let tick = (deadline / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
    while !done.load(Ordering::SeqCst) {
        // Woken at once when the run ends.
        std::thread::park_timeout(tick);
        for WatchedStage {
            name,
            index,
            output,
            watch,
        } in &stages
        {
            let Some((input, ends)) = watch.give_up(deadline) else {
                continue;
            };
            // A generator's call has no input: its next frame.
            let produced = live.stages[*index].frames.load(Ordering::Relaxed);
            let frame = input.last().map_or(produced + 1, |f| f.index() + 1);
            say(
                log,
                &format!(
                    "error: pipeline `{name}` did not return within {} s (--frame-timeout) (at frame {frame}); it was unloaded",
                    deadline.as_secs_f64()
                ),
            );
            let (passed, size) = (&live.stages[*index].passed, *output);
            scope.spawn(move || {
                passed.fetch_add(input.len() as u64, Ordering::Relaxed);
                for frame in input {
                    if ends.tx.send(fit(frame, size)).is_err() {
                        return;
                    }
                }
                pass_through(ends, size, passed, &mut 0);
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
    /// Into a supervisor's slots (`scopectl run`); the header, for y4m,
    /// goes to stdout before the first frame.
    #[cfg(unix)]
    Slots {
        slots: SlotOutput,
        header: Option<BufWriter<Box<dyn Write + Send>>>,
        y4m: bool,
    },
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
        #[cfg(unix)]
        if let (Output::Stdout, Some(slots)) = (output, SlotOutput::from_env()) {
            let slots = slots.map_err(|e| format!("cannot use the supervisor's frames: {e}"))?;
            let header = Some(BufWriter::new(writer));
            let y4m = format == Format::Y4m;
            let kind = SinkKind::Slots { slots, header, y4m };
            return Ok(Sink {
                kind,
                output: None,
                rate,
                tags,
                size: None,
            });
        }
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
            #[cfg(unix)]
            SinkKind::Slots { slots, header, y4m } => {
                let len = if *y4m {
                    y4m::frame_len420(size.0, size.1)
                } else {
                    frame.data().len()
                };
                if let Some(mut out) = header.take() {
                    slots.prepare(len)?;
                    if *y4m {
                        out.write_all(
                            y4m::header_line(size.0, size.1, self.rate, self.tags).as_bytes(),
                        )?;
                    }
                    out.flush()?;
                }
                let full_range = self.tags.full_range;
                slots.put(len, |bytes| {
                    if *y4m {
                        y4m::encode420(frame, full_range, bytes)
                    } else {
                        bytes.copy_from_slice(frame.data())
                    }
                })
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.kind {
            SinkKind::Null => Ok(()),
            SinkKind::Rgb(out) => out.flush(),
            SinkKind::Y4m(Some(writer)) => writer.flush(),
            SinkKind::Y4m(None) => Ok(()),
            #[cfg(unix)]
            SinkKind::Slots { .. } => Ok(()),
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
