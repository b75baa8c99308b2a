//! One video-mode stage of a chain, held to the frame contract (written in
//! `scope_plugin_api::Pipeline`'s documentation).
//!
//! The pipeline lives on a thread of its own (a [`Worker`]) so that a call
//! can be given up on at the deadline. Before each call the stage keeps
//! the call's input as it is ([`Kept`]: clones that share its bytes, which
//! the SDK's copy-on-write leaves untouched whatever the pipeline writes);
//! when the call fails — a panic, an `Err`, frames of another size, another number of
//! frames than it was given (unless the pipeline declared it changes the
//! count), or no answer before `--frame-timeout` — the pipeline is unloaded
//! and the kept input goes on in place of what it returned, so every input frame
//! leaves the stage exactly once. From then on frames pass through.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use scope_plugin_api::{Frame, Params, Pipeline};

use crate::guard;

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

/// Where a stage's pipeline runs. With a deadline, on a thread of its own,
/// so that a call can be given up on (dropping the worker ends the thread
/// after its current call; a call that never returns keeps its thread,
/// which ends with the process). Without one, on the stage's thread: no
/// hand-off between threads per call.
pub enum Worker {
    Direct(Box<dyn Pipeline>),
    Thread {
        calls: SyncSender<Call>,
        answers: Receiver<Result<Answer, String>>,
        deadline: Duration,
    },
}

/// Runs one call of `pipeline`, a panic caught.
fn answer(pipeline: &mut Box<dyn Pipeline>, call: Call) -> Result<Answer, String> {
    match call {
        Call::Prepare(params) => guard::catch(|| pipeline.prepare(&params))
            .map(|r| Answer::Wanted(r.input_size))
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

impl Worker {
    /// Runs `pipeline` where each call may take `deadline` (none: no limit).
    pub fn start(mut pipeline: Box<dyn Pipeline>, deadline: Option<Duration>) -> Worker {
        let Some(deadline) = deadline else {
            return Worker::Direct(pipeline);
        };
        let (calls, requests) = sync_channel::<Call>(1);
        let (answered, answers) = sync_channel(1);
        std::thread::spawn(move || {
            for call in requests {
                if answered.send(answer(&mut pipeline, call)).is_err() {
                    break;
                }
            }
            let _ = guard::catch(move || drop(pipeline));
        });
        Worker::Thread {
            calls,
            answers,
            deadline,
        }
    }

    fn ask(&mut self, call: Call) -> Result<Answer, String> {
        let (calls, answers, deadline) = match self {
            Worker::Direct(pipeline) => return answer(pipeline, call),
            Worker::Thread {
                calls,
                answers,
                deadline,
            } => (calls, answers, *deadline),
        };
        let gone = || "stopped answering".to_owned();
        calls.send(call).map_err(|_| gone())?;
        match answers.recv_timeout(deadline) {
            Ok(answered) => answered,
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "did not return within {} s (--frame-timeout)",
                deadline.as_secs_f64()
            )),
            Err(RecvTimeoutError::Disconnected) => Err(gone()),
        }
    }

    /// How many frames the next call needs (at least one).
    pub fn prepare(&mut self, params: &Params) -> Result<usize, String> {
        match self.ask(Call::Prepare(params.clone()))? {
            Answer::Wanted(n) => Ok(n.max(1)),
            Answer::Frames(_) => Err("answered out of turn".into()),
        }
    }

    /// `process`, held to the contract against `kept` (the input as it was).
    pub fn process(
        &mut self,
        input: Vec<Frame>,
        kept: &Kept,
        params: &Params,
        rule: Rule,
    ) -> Result<Vec<Frame>, String> {
        let answered = self.ask(Call::Process(input, params.clone()));
        held_to_contract(answered, kept, rule)
    }

    /// `finish` with the frames of an incomplete batch.
    pub fn finish(
        &mut self,
        leftover: Vec<Frame>,
        kept: &Kept,
        params: &Params,
        rule: Rule,
    ) -> Result<Vec<Frame>, String> {
        let answered = self.ask(Call::Finish(leftover, params.clone()));
        held_to_contract(answered, kept, rule)
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
    /// The pipeline declared that it changes the number of frames.
    pub changes_frame_count: bool,
}

fn held_to_contract(
    answered: Result<Answer, String>,
    kept: &Kept,
    rule: Rule,
) -> Result<Vec<Frame>, String> {
    let frames = match answered? {
        Answer::Frames(frames) => frames,
        Answer::Wanted(_) => return Err("answered out of turn".into()),
    };
    let given = kept.frames.len();
    if !rule.changes_frame_count && frames.len() != given {
        return Err(format!(
            "broke the frame contract: it returned {} frame(s) for {given} (a pipeline that changes the number of frames declares `changes_frame_count`)",
            frames.len()
        ));
    }
    if !rule.changes_frame_count {
        // One out per one in: each output frame is at its input's place in
        // the stream, whatever the pipeline did to the timing.
        let timed = frames
            .into_iter()
            .zip(&kept.frames)
            .map(|(frame, input)| frame.with_timing(input.index(), input.time()));
        let frames: Vec<Frame> = timed.collect();
        return sized(frames, kept);
    }
    sized(frames, kept)
}

/// Refuses frames of another size than the input's.
fn sized(frames: Vec<Frame>, kept: &Kept) -> Result<Vec<Frame>, String> {
    if let Some(size) = kept.size() {
        if let Some(other) = frames.iter().find(|f| (f.width(), f.height()) != size) {
            return Err(format!(
                "broke the frame contract: it returned a {}x{} frame for {}x{} input",
                other.width(),
                other.height(),
                size.0,
                size.1
            ));
        }
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

    /// The input's frame size (all frames of a call share it).
    fn size(&self) -> Option<(u32, u32)> {
        self.frames.first().map(|f| (f.width(), f.height()))
    }

    /// The input as it was, to go on in place of a failed call's output.
    pub fn take(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.frames)
    }
}

/// How long a call took, for the stage's busy time.
pub fn timed<T>(busy: &mut Duration, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = f();
    *busy += started.elapsed();
    result
}
