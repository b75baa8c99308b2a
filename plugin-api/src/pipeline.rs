use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{Error, Frame, Params, PipelineConfig};

/// What a pipeline needs before its next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    /// How many input frames the host collects and passes to the next
    /// [`Pipeline::process`] call. Text-mode pipelines need none.
    pub input_size: usize,
}

impl Requirements {
    /// Needs `input_size` input frames.
    pub fn frames(input_size: usize) -> Self {
        Requirements { input_size }
    }
}

/// What a pipeline is constructed with: the frame size it will see and its
/// load-time parameters.
#[derive(Debug, Clone)]
pub struct Load {
    /// Width of the frames, in pixels.
    pub width: u32,
    /// Height of the frames, in pixels.
    pub height: u32,
    /// Load-time parameters (those declared with [`Param::load_param`](crate::Param::load_param)).
    pub params: Params,
    /// The plugin's data files, by name: see [`Load::artifact`].
    pub artifacts: Artifacts,
}

/// The data files a plugin declared in `[package.metadata.scope.artifacts]`
/// (model weights, LUTs), fetched and verified by scopectl before the host
/// was built, read-only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    paths: BTreeMap<String, PathBuf>,
}

impl Artifacts {
    /// Artifacts at these paths, by name (the host and test harnesses make
    /// them; a plugin only reads them).
    pub fn new(paths: impl IntoIterator<Item = (String, PathBuf)>) -> Artifacts {
        Artifacts {
            paths: paths.into_iter().collect(),
        }
    }

    /// The names declared, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.paths.keys().map(String::as_str)
    }
}

impl Load {
    /// Where the artifact `name` is: a file, or a directory for one declared
    /// with `unpack`. Read-only; under the host's sandbox it is readable
    /// without a grant.
    ///
    /// ```
    /// # use scope_plugin_api::{Artifacts, Load, Mode, Params};
    /// let load = Load {
    ///     width: 8,
    ///     height: 8,
    ///     params: Params::empty(Mode::Video),
    ///     artifacts: Artifacts::new([("lut".to_owned(), "/data/lut.cube".into())]),
    /// };
    /// assert_eq!(load.artifact("lut").unwrap(), std::path::Path::new("/data/lut.cube"));
    /// assert!(load.artifact("weights").unwrap_err().to_string().contains("lut"));
    /// ```
    pub fn artifact(&self, name: &str) -> Result<&Path, Error> {
        self.artifacts.paths.get(name).map(PathBuf::as_path).ok_or_else(|| {
            let declared: Vec<&str> = self.artifacts.names().collect();
            let declared = match declared.is_empty() {
                true => "none is declared".to_owned(),
                false => format!("declared: {}", declared.join(", ")),
            };
            Error::new(format!(
                "no artifact `{name}` ({declared}); declare it in `[package.metadata.scope.artifacts]` of the plugin's Cargo.toml"
            ))
        })
    }
}

/// A frame-processing pipeline.
///
/// The host constructs it with [`Pipeline::load`], then repeatedly asks
/// [`Pipeline::prepare`] how many frames the next call needs, collects them and
/// calls [`Pipeline::process`]; at the end of the input it calls
/// [`Pipeline::finish`] once. A panic or an error from any of these unloads
/// the pipeline; the host reports it and keeps running where it can.
///
/// # The frame contract
///
/// The host enforces it, so that every input frame leaves the host exactly
/// once, whatever a plugin does:
///
/// - **Size.** A call returns frames of the size the pipeline declared for
///   its output with [`Pipeline::output_size`], asked once after
///   [`Pipeline::load`]: by default the size it was loaded for. A pipeline
///   that scales or crops declares it there (as ffmpeg's `config_props`);
///   the next pipeline of the chain is loaded for that size.
/// - **Count.** A video-mode call returns exactly as many frames as it was
///   given, in order, unless the pipeline declared
///   [`PipelineConfig::changes_frame_count`]`(out, per)`: then over the
///   stream it returns `out` frames per `per` in, never more than the frames
///   so far allow, and by the end of the stream (after
///   [`Pipeline::finish`]) the declared number, rounded down or up. A
///   temporal pipeline that needs several frames per call asks for them
///   with [`Pipeline::prepare`] and still returns one frame per input frame.
/// - **Timing.** Each frame carries its index in the stream and its
///   presentation time ([`Frame::index`](crate::Frame::index),
///   [`Frame::time`](crate::Frame::time)). The output frames of a call
///   that keeps the count get their input's, in order, whatever the
///   pipeline set; one that changes the count sets them itself
///   ([`Frame::with_timing`](crate::Frame::with_timing)).
/// - **Ownership.** The input frames are the pipeline's: modify them in
///   place and return them (the cheapest), or return new ones. Frames the
///   pipeline keeps for later (a temporal window) must be clones.
/// - **End of stream.** [`Pipeline::finish`] gets the frames of a batch
///   the stream ended in the middle of; what it returns goes out last.
/// - **Failure.** A call that panics, returns `Err`, breaks the size or
///   count rule, or runs past the host's per-call deadline
///   (`scope-host run --frame-timeout`) unloads the pipeline: that call's
///   input frames pass through unchanged (scaled to the declared output
///   size, when the pipeline declared another), and so do all later
///   frames; extra frames are discarded. The host names the pipeline and
///   the frames passed through, and exits with a non-zero status.
/// - **Threads.** Each pipeline runs on a thread of its own (hence `Send`);
///   one pipeline's calls never overlap. A pipeline may use its own threads
///   (rayon) inside a call.
pub trait Pipeline: Send {
    /// The pipeline's identity and parameter schema.
    fn config() -> PipelineConfig
    where
        Self: Sized;

    /// Constructs the pipeline.
    fn load(load: &Load) -> Result<Self, Error>
    where
        Self: Sized;

    /// The size of the frames this pipeline returns, asked once after
    /// [`Pipeline::load`]; the host holds every call to it. The default is
    /// the size the pipeline was loaded for.
    fn output_size(&self, load: &Load) -> (u32, u32) {
        (load.width, load.height)
    }

    /// How many input frames the next call needs. The default asks for none
    /// in text mode and one in video mode.
    fn prepare(&mut self, params: &Params) -> Requirements {
        match params.mode() {
            crate::Mode::Text => Requirements::frames(0),
            crate::Mode::Video => Requirements::frames(1),
        }
    }

    /// Turns the collected input frames (as many as [`Pipeline::prepare`]
    /// asked for; none in text mode) into output frames, as the frame
    /// contract above says.
    fn process(&mut self, input: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, Error>;

    /// Called once when the input ends, with the frames of a batch that
    /// could not be completed (fewer than [`Pipeline::prepare`] asked for;
    /// often none). What it returns goes out before the end: a temporal
    /// pipeline flushes its tail here. The default returns `leftover`
    /// unchanged, so no frame is lost.
    fn finish(&mut self, leftover: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, Error> {
        let _ = params;
        Ok(leftover)
    }
}
