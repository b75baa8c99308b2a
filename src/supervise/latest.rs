//! The stream's latest output frame, for `ctl snapshot`: a frame the
//! supervisor holds anyway (in pipes, or a copy), or one still in a host's
//! output slot, which the host is not given back while it is the latest.

use std::io;

use scope_host::video::framing::RawFrame;

use super::frame_pool;
use super::session::Shared;
#[cfg(target_os = "linux")]
use super::slots::SlotFrame;

pub enum Latest {
    /// Held by the supervisor.
    Held(Shared),
    /// In a host's output slot, with its `FRAME` line (y4m) or none.
    #[cfg(target_os = "linux")]
    InSlot {
        frame: SlotFrame,
        line: &'static str,
    },
}

impl Latest {
    /// The frame's bytes, copied.
    pub fn raw(&self) -> io::Result<RawFrame> {
        match self {
            Latest::Held(frame) => frame.raw(),
            #[cfg(target_os = "linux")]
            Latest::InSlot { frame, line } => Ok(RawFrame {
                line: (*line).to_owned(),
                data: frame.bytes().to_vec(),
            }),
        }
    }

    /// Lets the frame go (a buffer of the supervisor's goes back to its
    /// pool).
    pub fn release(self) {
        if let Latest::Held(frame) = self {
            frame_pool::release(frame);
        }
    }
}
