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
}

/// A frame-processing pipeline.
///
/// The host constructs it with [`Pipeline::load`], then repeatedly asks
/// [`Pipeline::prepare`] how many frames the next call needs, collects them and
/// calls [`Pipeline::process`]. A panic or an error from any of these unloads
/// the pipeline; the host reports it and keeps running where it can.
pub trait Pipeline: Send {
    /// The pipeline's identity and parameter schema.
    fn config() -> PipelineConfig
    where
        Self: Sized;

    /// Constructs the pipeline.
    fn load(load: &Load) -> Result<Self, Error>
    where
        Self: Sized;

    /// How many input frames the next call needs. The default asks for none
    /// in text mode and one in video mode.
    fn prepare(&mut self, params: &Params) -> Requirements {
        match params.mode() {
            crate::Mode::Text => Requirements::frames(0),
            crate::Mode::Video => Requirements::frames(1),
        }
    }

    /// Turns the collected input frames (as many as [`Pipeline::prepare`]
    /// asked for; none in text mode) into output frames.
    fn process(&mut self, input: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, Error>;
}
