//! One video-mode stage of a chain, held to the frame contract (written in
//! `scope_plugin_api::Pipeline`'s documentation).
//!
//! Before each call the stage keeps the call's input as it is ([`Kept`]:
//! clones that share its bytes, which the SDK's copy-on-write leaves
//! untouched whatever the pipeline writes). When the call fails — a panic,
//! an `Err`, frames of another size than the pipeline declared, another
//! number of frames than it was given (or than its declared ratio allows) —
//! the pipeline is unloaded and the kept input goes on in place of what it
//! returned (scaled to the declared size), so every input frame leaves the
//! stage exactly once. From then on frames pass through.
//!
//! A call runs on the stage's own thread. For the deadline
//! (`--frame-timeout`), the stage parks its two channels and the call's
//! input in a [`Watched`] while the call runs; a watchdog that finds a call
//! past the deadline takes them and carries the stream on without the
//! stage, whose thread is left to finish (or hang) alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scope_plugin_api::{Frame, Params, Pipeline};

use crate::guard::{self, lock};
use crate::video::scale::fit;

/// A request to the pipeline.
pub enum Call {
    Prepare(Params),
    Process(Vec<Frame>, Params),
    Finish(Vec<Frame>, Params),
}

/// What the pipeline answered.
pub enum Answer {
    Wanted(usize),
    Frames(Vec<Frame>),
}

/// Runs one call of `pipeline`, a panic caught.
pub fn answer(pipeline: &mut Box<dyn Pipeline>, call: Call) -> Result<Answer, String> {
    match call {
        Call::Prepare(params) => guard::catch(|| pipeline.prepare(&params))
            .map(|r| Answer::Wanted(r.input_size.max(1)))
            .map_err(|panic| format!("prepare {panic}")),
        Call::Process(input, params) => {
            flatten(guard::catch(|| pipeline.process(input, &params)), "")
        }
        Call::Finish(leftover, params) => flatten(
            guard::catch(|| pipeline.finish(leftover, &params)),
            "finish ",
        ),
    }
}

/// A stage's two channels.
pub struct Ends {
    pub rx: Receiver<Frame>,
    pub tx: SyncSender<Frame>,
}

/// What a stage shares with the watchdog.
pub struct Watched {
    origin: Instant,
    /// When the call in progress began (nanoseconds after `origin`, plus
    /// one); 0 between calls.
    busy_since: AtomicU64,
    parked: Mutex<Parked>,
}

#[derive(Default)]
struct Parked {
    /// The watchdog gave up on the call in progress.
    abandoned: bool,
    /// The stage's channels, while a call runs.
    ends: Option<Ends>,
    /// The call's input as it was (clones), while it runs.
    input: Vec<Frame>,
}

impl Default for Watched {
    fn default() -> Self {
        Watched {
            origin: Instant::now(),
            busy_since: AtomicU64::new(0),
            parked: Mutex::new(Parked::default()),
        }
    }
}

impl Watched {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    /// Runs `call` with the stage's channels and the call's input parked
    /// where the watchdog can take them. `None` when the watchdog gave up
    /// on the call meanwhile: the stream went on without the stage.
    pub fn during<T>(
        &self,
        ends: Ends,
        input: &[Frame],
        call: impl FnOnce() -> T,
    ) -> Option<(T, Ends)> {
        {
            let mut parked = lock(&self.parked);
            parked.ends = Some(ends);
            parked.input = input.to_vec();
        }
        self.busy_since.store(self.now(), Ordering::SeqCst);
        let result = call();
        self.busy_since.store(0, Ordering::SeqCst);
        let mut parked = lock(&self.parked);
        if parked.abandoned {
            return None;
        }
        parked.input.clear();
        let ends = parked.ends.take().expect("parked before the call");
        Some((result, ends))
    }

    /// For the watchdog: when the call in progress has run `deadline` or
    /// more, gives it up and returns what the stage held: the call's input
    /// as it was, and the channels to carry the stream on with.
    pub fn give_up(&self, deadline: Duration) -> Option<(Vec<Frame>, Ends)> {
        let since = self.busy_since.load(Ordering::SeqCst);
        let limit = u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX);
        if since == 0 || self.now().saturating_sub(since) < limit {
            return None;
        }
        let mut parked = lock(&self.parked);
        // The call may have ended just now: then it is not given up.
        if parked.abandoned || self.busy_since.load(Ordering::SeqCst) != since {
            return None;
        }
        parked.abandoned = true;
        let ends = parked.ends.take()?;
        Some((std::mem::take(&mut parked.input), ends))
    }

    /// Whether the watchdog gave up on this stage.
    pub fn abandoned(&self) -> bool {
        lock(&self.parked).abandoned
    }
}

fn flatten(
    caught: Result<Result<Vec<Frame>, scope_plugin_api::Error>, String>,
    call: &str,
) -> Result<Answer, String> {
    match caught {
        Ok(Ok(frames)) => Ok(Answer::Frames(frames)),
        Ok(Err(e)) => Err(format!("{call}failed: {e}")),
        Err(panic) => Err(format!("{call}{panic}")),
    }
}

/// What the host holds a pipeline's calls to.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The frames out per frames in the pipeline declared, when it changes
    /// the number of frames.
    pub frames_out_per_in: Option<(u32, u32)>,
    /// The size of the frames it returns (declared with `output_size`).
    pub output: (u32, u32),
}

/// The frames a stage whose pipeline changes the count was given and
/// returned so far, to hold it to its declared ratio.
#[derive(Debug, Default)]
pub struct Tally {
    given: u64,
    returned: u64,
}

impl Tally {
    /// The frames `given` frames allow at most and at least, by the ratio.
    fn bounds(given: u64, (out, per): (u32, u32)) -> (u64, u64) {
        let (out, per) = (u64::from(out), u64::from(per));
        let floor = given * out / per;
        (floor, floor + u64::from(!(given * out).is_multiple_of(per)))
    }

    /// At the end of the stream: how many frames short of the declared
    /// ratio the pipeline stayed, with the message that says so.
    pub fn shortfall(&self, rule: Rule) -> Option<(u64, String)> {
        let ratio = rule.frames_out_per_in?;
        let (least, _) = Tally::bounds(self.given, ratio);
        let short = least.checked_sub(self.returned).filter(|n| *n > 0)?;
        Some((
            short,
            format!(
                "broke the frame contract: it returned {} frame(s) for {} in, where it declared {} per {} ({short} lost)",
                self.returned, self.given, ratio.0, ratio.1
            ),
        ))
    }
}

pub fn held_to_contract(
    answered: Result<Answer, String>,
    kept: &Kept,
    rule: Rule,
    tally: &mut Tally,
) -> Result<Vec<Frame>, String> {
    let frames = match answered? {
        Answer::Frames(frames) => frames,
        Answer::Wanted(_) => return Err("answered out of turn".into()),
    };
    let given = kept.frames.len();
    let Some(ratio) = rule.frames_out_per_in else {
        if frames.len() != given {
            return Err(format!(
                "broke the frame contract: it returned {} frame(s) for {given} (a pipeline that changes the number of frames declares `changes_frame_count`)",
                frames.len()
            ));
        }
        // One out per one in: each output frame is at its input's place in
        // the stream, whatever the pipeline did to the timing.
        let timed = frames
            .into_iter()
            .zip(&kept.frames)
            .map(|(frame, input)| frame.with_timing(input.index(), input.time()));
        return sized(timed.collect(), rule.output);
    };
    let (given, returned) = (
        tally.given + given as u64,
        tally.returned + frames.len() as u64,
    );
    let (_, most) = Tally::bounds(given, ratio);
    if returned > most {
        return Err(format!(
            "broke the frame contract: it returned {returned} frame(s) for {given} in so far, more than the {} per {} it declared",
            ratio.0, ratio.1
        ));
    }
    let frames = sized(frames, rule.output)?;
    *tally = Tally { given, returned };
    Ok(frames)
}

/// Refuses frames of another size than the declared one.
pub fn sized(frames: Vec<Frame>, size: (u32, u32)) -> Result<Vec<Frame>, String> {
    if let Some(other) = frames.iter().find(|f| (f.width(), f.height()) != size) {
        return Err(format!(
            "broke the frame contract: it returned a {}x{} frame where it declared {}x{}",
            other.width(),
            other.height(),
            size.0,
            size.1
        ));
    }
    Ok(frames)
}

/// How many spare buffers a stage keeps for its pipeline's writes.
const MAX_SPARE: usize = 8;

/// A call's input as it was, to pass on in its place if the call fails.
/// The frames are clones, sharing the input's bytes: a pipeline's writes
/// go beside shared bytes (the SDK's copy-on-write), so keeping them costs
/// no copy, and the spare buffers lent with the input are where those
/// writes land.
#[derive(Default)]
pub struct Kept {
    frames: Vec<Frame>,
    spare: Vec<Vec<u8>>,
}

impl Kept {
    /// Keeps `input` as it is, and lends each frame a spare buffer.
    pub fn keep(&mut self, input: &mut [Frame]) {
        self.frames.clear();
        for frame in input.iter_mut() {
            self.frames.push(frame.clone());
            if let Some(buffer) = self.spare.pop() {
                frame.lend_spare(buffer);
            }
        }
    }

    /// After a call that kept the contract: spares the output did not use
    /// come back, and the input's bytes that no output shares become spares.
    pub fn release(&mut self, output: &mut [Frame]) {
        self.spare
            .extend(output.iter_mut().filter_map(Frame::take_spare));
        for frame in self.frames.drain(..) {
            if let Some(buffer) = frame.into_unshared() {
                self.spare.push(buffer);
            }
        }
        self.spare.truncate(MAX_SPARE);
    }

    /// The input as it was.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The input as it was, to go on in place of a failed call's output,
    /// at the size the rest of the chain was loaded for.
    pub fn take(&mut self, size: (u32, u32)) -> Vec<Frame> {
        let frames = std::mem::take(&mut self.frames);
        frames.into_iter().map(|f| fit(f, size)).collect()
    }
}

/// How long a call took, for the stage's busy time (its own total, and the
/// live counter `status` reports, in microseconds).
pub fn timed<T>(busy: &mut Duration, live_us: &AtomicU64, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = f();
    let took = started.elapsed();
    *busy += took;
    live_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    result
}
