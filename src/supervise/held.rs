//! A frame as the supervisor holds it between its input, the hosts and the
//! output: in pipes ([`super::piped`], the bytes never copied) where the
//! stream comes from a pipe or a file on Linux, in memory otherwise.

use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;

use scope_host::video::framing::{FrameReader, Framing, RawFrame};
use scope_host::video::VideoError;

use super::frame_pool;
#[cfg(target_os = "linux")]
use super::piped::{PipedFrame, Take};

/// One whole frame.
pub enum Held {
    /// Read into memory.
    Bytes(RawFrame),
    /// Held in pipes: its `FRAME` line (empty for rgb24) and its payload.
    #[cfg(target_os = "linux")]
    Piped { line: String, payload: PipedFrame },
}

impl Held {
    /// The frame's bytes (copied out of its pipes when held in them).
    pub fn raw(&self) -> io::Result<RawFrame> {
        match self {
            Held::Bytes(raw) => Ok(raw.clone()),
            #[cfg(target_os = "linux")]
            Held::Piped { line, payload } => Ok(RawFrame {
                line: line.clone(),
                data: payload.bytes()?,
            }),
        }
    }

    /// Writes the frame (its `FRAME` line and payload) by copying it.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        match self {
            Held::Bytes(raw) => raw.write_to(out),
            #[cfg(target_os = "linux")]
            Held::Piped { .. } => self.raw()?.write_to(out),
        }
    }
}

/// Reads whole frames from a stream (the input, or a host's stdout),
/// holding them in pipes when the stream is a pipe or a file.
pub struct HeldReader<R: Read> {
    frames: FrameReader<BufReader<R>>,
    piped: bool,
}

/// Frame headers are read through a buffer this small when payloads are
/// spliced: nothing past a header may be read into memory.
const UNBUFFERED: usize = 1;
/// Otherwise: small, frame payloads bypass it, only headers are buffered.
const BUFFERED: usize = 64 << 10;

fn buffered<R: Read + AsFd>(input: R) -> (BufReader<R>, bool) {
    #[cfg(target_os = "linux")]
    let piped = super::piped::can_take_from(&input);
    #[cfg(not(target_os = "linux"))]
    let piped = false;
    let capacity = if piped { UNBUFFERED } else { BUFFERED };
    (BufReader::with_capacity(capacity, input), piped)
}

impl<R: Read + AsFd> HeldReader<R> {
    /// A y4m stream: its header is read now.
    pub fn y4m(input: R) -> Result<Self, VideoError> {
        let (input, piped) = buffered(input);
        Ok(HeldReader {
            frames: FrameReader::y4m(input)?,
            piped,
        })
    }

    /// Raw rgb24 frames of this size.
    pub fn rgb24(input: R, width: u32, height: u32) -> Self {
        let (input, piped) = buffered(input);
        HeldReader {
            frames: FrameReader::rgb24(input, width, height),
            piped,
        }
    }

    /// The stream's format.
    pub fn framing(&self) -> &Framing {
        self.frames.framing()
    }

    /// Whether more of the stream is ready to be read now (the start of
    /// the next frame, at least), without waiting. Frames held in memory:
    /// never asked, always false.
    pub fn more_ready(&mut self) -> bool {
        #[cfg(target_os = "linux")]
        if self.piped {
            use rustix::event::{poll, PollFd, PollFlags, Timespec};
            let input = self.frames.input_mut();
            if !input.buffer().is_empty() {
                return true;
            }
            let mut fds = [PollFd::new(input.get_ref(), PollFlags::IN)];
            let now = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            return poll(&mut fds, Some(&now)).is_ok_and(|ready| ready == 1)
                && fds[0].revents().contains(PollFlags::IN);
        }
        false
    }

    /// The next whole frame; `None` at a clean end of stream.
    pub fn read(&mut self) -> Result<Option<Held>, VideoError> {
        if !self.piped {
            let raw = self.frames.read_frame_into(frame_pool::take())?;
            return Ok(raw.map(Held::Bytes));
        }
        self.read_piped()
    }

    #[cfg(not(target_os = "linux"))]
    fn read_piped(&mut self) -> Result<Option<Held>, VideoError> {
        unreachable!("frames are held in pipes only on Linux")
    }

    #[cfg(target_os = "linux")]
    fn read_piped(&mut self) -> Result<Option<Held>, VideoError> {
        use std::io::BufRead;
        let Some(line) = self.frames.next_frame_line()? else {
            return Ok(None);
        };
        let len = self.frames.framing().frame_len();
        let input = self.frames.input_mut();
        // What finding the frame's start read of its payload (a byte of
        // an rgb24 frame).
        let prefix = input.buffer().to_vec();
        input.consume(prefix.len());
        let taken =
            PipedFrame::take(input.get_ref(), &prefix, len).map_err(|e| VideoError::io(0, e))?;
        let held = match taken {
            Take::Whole(payload) => Held::Piped { line, payload },
            Take::Short(read) => return Err(self.frames.truncated(read)),
            Take::NoPipes => {
                let mut data = frame_pool::take();
                data.clear();
                data.reserve_exact(len);
                data.extend_from_slice(&prefix);
                let rest = (len - prefix.len()) as u64;
                input
                    .by_ref()
                    .take(rest)
                    .read_to_end(&mut data)
                    .map_err(|e| VideoError::io(0, e))?;
                if data.len() < len {
                    return Err(self.frames.truncated(data.len()));
                }
                Held::Bytes(RawFrame { line, data })
            }
        };
        self.frames.payload_taken();
        Ok(Some(held))
    }
}
