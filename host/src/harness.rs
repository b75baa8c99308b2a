//! One pipeline run the way the host runs it, for a plugin's own tests
//! (the `scope-plugin-test` crate wraps it with frame builders and
//! comparisons): registration checked as the host checks it, parameters
//! parsed and split by the schema as `--set` is, the output size asked once
//! after load, exactly the frames `prepare` asks for per call, changes of
//! runtime parameters between calls, `finish` at the end, and every call
//! held to the frame contract by the host's own checks ([`crate::stage`]).
//! Where the host would unload the pipeline, the harness answers an error
//! with the host's words.

use std::collections::VecDeque;
use std::time::Duration;

use scope_plugin_api::{Frame, Load, Mode, Params, Pipeline, PipelineConfig, Registry, Value};

use crate::guard;
use crate::stage::{answer, held_to_contract, sized, Answer, Call, Kept, Rule, Tally};

/// How a harness is made: the plugin's registration, the pipeline's id,
/// the frame size and the parameters.
pub struct HarnessBuilder {
    register: fn(&mut Registry),
    id: String,
    size: (u32, u32),
    mode: Option<Mode>,
    sets: Vec<(String, String)>,
    artifacts: Vec<(String, std::path::PathBuf)>,
}

impl HarnessBuilder {
    /// Gives the pipeline the artifact `name` at `path` (what
    /// `[package.metadata.scope.artifacts]` declares and scopectl fetches
    /// for the host).
    pub fn artifact(mut self, name: &str, path: impl Into<std::path::PathBuf>) -> Self {
        self.artifacts.push((name.to_owned(), path.into()));
        self
    }

    /// Sets parameter `key` as `--set key=value` does (load-time or runtime,
    /// as the schema says).
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.sets.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The size of the frames the pipeline is loaded for (default 64x48).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// The mode to run in (default: the pipeline's default mode).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Registers the plugin, resolves the parameters and loads the
    /// pipeline; an error says what the host would have said.
    pub fn load(self) -> Result<Harness, String> {
        let mut registry = Registry::new();
        guard::catch(|| (self.register)(&mut registry))
            .map_err(|panic| format!("the plugin's registration {panic}"))?;
        if let Some(error) = registry.errors().first() {
            return Err(error.to_string());
        }
        let entry = registry
            .pipelines()
            .iter()
            .find(|e| e.config().id() == self.id)
            .ok_or_else(|| {
                let ids: Vec<&str> = registry
                    .pipelines()
                    .iter()
                    .map(|e| e.config().id())
                    .collect();
                format!(
                    "no pipeline `{}` is registered (the plugin registers {})",
                    self.id,
                    ids.join(", ")
                )
            })?;
        let config = entry.config().clone();
        let mode = self.mode.unwrap_or(config.default_mode());
        let given = parse(&config, &self.sets)?;
        let (load_params, runtime) = config
            .resolve(mode, &given, None)
            .map_err(|e| e.to_string())?;
        let load = Load {
            width: self.size.0,
            height: self.size.1,
            params: load_params,
            artifacts: scope_plugin_api::Artifacts::new(self.artifacts.clone()),
        };
        let failed = |what: String| format!("pipeline `{}` failed to load: {what}", self.id);
        let pipeline = match guard::catch(|| entry.load(&load)) {
            Ok(Ok(pipeline)) => pipeline,
            Ok(Err(e)) => return Err(failed(e.to_string())),
            Err(panic) => return Err(failed(format!("it {panic}"))),
        };
        let output = guard::catch(|| pipeline.output_size(&load))
            .map_err(|panic| failed(format!("its output_size {panic}")))?;
        Ok(Harness {
            config,
            pipeline: Some(pipeline),
            runtime,
            rule: Rule {
                frames_out_per_in: entry.config().frames_out_per_in(),
                output,
            },
            kept: Kept::default(),
            tally: Tally::default(),
            pending: Vec::new(),
            out: VecDeque::new(),
            next_index: 0,
            frame_time: Duration::from_secs(1) / 30,
        })
    }
}

fn parse(
    config: &PipelineConfig,
    sets: &[(String, String)],
) -> Result<Vec<(String, Value)>, String> {
    sets.iter()
        .map(|(key, raw)| {
            let value = config.parse_value(key, raw).map_err(|e| e.to_string())?;
            Ok((key.clone(), value))
        })
        .collect()
}

/// A loaded pipeline, fed frame by frame.
pub struct Harness {
    config: PipelineConfig,
    pipeline: Option<Box<dyn Pipeline>>,
    runtime: Params,
    rule: Rule,
    kept: Kept,
    tally: Tally,
    /// Frames pushed, waiting for a complete batch.
    pending: Vec<Frame>,
    /// Frames the pipeline returned, not pulled yet.
    out: VecDeque<Frame>,
    next_index: u64,
    frame_time: Duration,
}

impl Harness {
    /// A harness for pipeline `id` of the plugin whose registration
    /// function is `register`.
    pub fn builder(register: fn(&mut Registry), id: &str) -> HarnessBuilder {
        HarnessBuilder {
            register,
            id: id.to_owned(),
            size: (64, 48),
            mode: None,
            sets: Vec::new(),
            artifacts: Vec::new(),
        }
    }

    /// The size the pipeline declared for its output.
    pub fn output_size(&self) -> (u32, u32) {
        self.rule.output
    }

    /// Gives the pipeline one frame (numbered and timed as the host does,
    /// at 30 fps); when its batch is complete, the call runs and what it
    /// returns can be pulled.
    pub fn push(&mut self, frame: Frame) -> Result<(), String> {
        let time = self.frame_time * u32::try_from(self.next_index).unwrap_or(u32::MAX);
        self.pending.push(frame.with_timing(self.next_index, time));
        self.next_index += 1;
        if self.pending.len() >= self.wanted()? {
            let input = std::mem::take(&mut self.pending);
            self.call(input, false)?;
        }
        Ok(())
    }

    /// The next frame the pipeline returned, if any.
    pub fn pull(&mut self) -> Option<Frame> {
        self.out.pop_front()
    }

    /// Changes a runtime parameter before the next call, as `ctl set` does;
    /// a load-time parameter is refused (it needs a new load).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = self
            .config
            .parse_value(key, value)
            .map_err(|e| e.to_string())?;
        self.config
            .update_runtime(&mut self.runtime, key, value)
            .map_err(|e| e.to_string())
    }

    /// Ends the stream: `finish` gets the frames of an incomplete batch,
    /// and everything not pulled yet comes back, in order.
    pub fn finish(&mut self) -> Result<Vec<Frame>, String> {
        let input = std::mem::take(&mut self.pending);
        self.call(input, true)?;
        if let Some((_, what)) = self.tally.shortfall(self.rule) {
            return Err(format!("pipeline `{}` {what}", self.config.id()));
        }
        Ok(self.out.drain(..).collect())
    }

    /// A text-mode pipeline: calls it with no input until it returned
    /// `count` frames (at most `count` calls that return none in a row).
    pub fn generate(&mut self, count: usize) -> Result<Vec<Frame>, String> {
        let mut frames = Vec::new();
        let mut empty = 0;
        while frames.len() < count {
            let call = Call::Process(Vec::new(), self.runtime.clone());
            let answered = answer(self.loaded()?, call);
            let returned = match answered {
                Ok(Answer::Frames(returned)) => sized(returned, self.rule.output),
                Ok(Answer::Wanted(_)) => unreachable!("process answers frames"),
                Err(e) => Err(e),
            };
            let returned = returned.map_err(|e| self.unloaded(&e))?;
            empty = if returned.is_empty() { empty + 1 } else { 0 };
            if empty > count {
                return Err(self.unloaded(&format!("returned no frame in {empty} calls in a row")));
            }
            frames.extend(returned);
        }
        frames.truncate(count);
        Ok(frames)
    }

    /// Pushes every frame, finishes, and returns everything that came out.
    pub fn run(&mut self, frames: impl IntoIterator<Item = Frame>) -> Result<Vec<Frame>, String> {
        for frame in frames {
            self.push(frame)?;
        }
        self.finish()
    }

    /// How many frames the next call needs (`prepare`).
    fn wanted(&mut self) -> Result<usize, String> {
        let call = Call::Prepare(self.runtime.clone());
        match answer(self.loaded()?, call) {
            Ok(Answer::Wanted(n)) => Ok(n),
            Ok(Answer::Frames(_)) => unreachable!("prepare answers how many frames"),
            Err(e) => Err(self.unloaded(&e)),
        }
    }

    fn call(&mut self, mut input: Vec<Frame>, ended: bool) -> Result<(), String> {
        let runtime = self.runtime.clone();
        self.kept.keep(&mut input);
        let call = match ended {
            true => Call::Finish(input, runtime),
            false => Call::Process(input, runtime),
        };
        let answered = answer(self.loaded()?, call);
        match held_to_contract(answered, &self.kept, self.rule, &mut self.tally) {
            Ok(mut frames) => {
                self.kept.release(&mut frames);
                self.out.extend(frames);
                Ok(())
            }
            Err(e) => Err(self.unloaded(&e)),
        }
    }

    fn loaded(&mut self) -> Result<&mut Box<dyn Pipeline>, String> {
        let id = self.config.id().to_owned();
        self.pipeline
            .as_mut()
            .ok_or_else(|| format!("pipeline `{id}` was unloaded by an earlier failure"))
    }

    /// The host unloads a pipeline that failed: so does the harness.
    fn unloaded(&mut self, what: &str) -> String {
        self.pipeline = None;
        format!("pipeline `{}` {what}", self.config.id())
    }
}
