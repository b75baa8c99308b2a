//! A frame as the supervisor holds it between its input, the hosts and the
//! output, on Linux without copying its bytes: as its place in the input
//! when that is a regular file ([`super::in_file`]), in pipes when it is a
//! pipe ([`super::piped`]); in memory otherwise.

use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;

use scope_host::video::framing::{FrameReader, Framing, RawFrame};
use scope_host::video::VideoError;

use super::frame_pool;
#[cfg(target_os = "linux")]
use super::in_file::{FileFrame, Found, InputFile};
#[cfg(target_os = "linux")]
use super::piped::{PipedFrame, Take};

/// One whole frame.
pub enum Held {
    /// Read into memory.
    Bytes(RawFrame),
    /// Held in pipes: its `FRAME` line (empty for rgb24) and its payload.
    #[cfg(target_os = "linux")]
    Piped { line: String, payload: PipedFrame },
    /// Where it lies in the input file: its `FRAME` line and payload.
    #[cfg(target_os = "linux")]
    InFile { line: String, frame: FileFrame },
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
            #[cfg(target_os = "linux")]
            Held::InFile { line, frame } => Ok(RawFrame {
                line: line.clone(),
                data: frame.bytes()?,
            }),
        }
    }

    /// Writes the frame (its `FRAME` line and payload) by copying it.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        match self {
            Held::Bytes(raw) => raw.write_to(out),
            #[cfg(target_os = "linux")]
            Held::Piped { .. } | Held::InFile { .. } => self.raw()?.write_to(out),
        }
    }
}

/// Reads whole frames from a stream (the input, or a host's stdout),
/// holding them by offset when the stream is a regular file, in pipes when
/// it is a pipe.
pub struct HeldReader<R: Read> {
    frames: FrameReader<BufReader<R>>,
    holding: Holding,
}

/// How a [`HeldReader`] holds its frames.
enum Holding {
    Memory,
    #[cfg(target_os = "linux")]
    Pipes,
    #[cfg(target_os = "linux")]
    File(InputFile),
}

/// Frame headers are read through a buffer this small when payloads are
/// spliced from a pipe: nothing past a header may be read into memory.
const UNBUFFERED: usize = 1;
/// From a file read by offset: what is read past a header is dropped.
const LINE_BUFFER: usize = 128;
/// Otherwise: small, frame payloads bypass it, only headers are buffered.
const BUFFERED: usize = 64 << 10;

fn buffered<R: Read + AsFd>(input: R) -> (BufReader<R>, Holding) {
    #[cfg(target_os = "linux")]
    if let Some(file) = InputFile::new(&input) {
        return (
            BufReader::with_capacity(LINE_BUFFER, input),
            Holding::File(file),
        );
    }
    #[cfg(target_os = "linux")]
    if super::piped::can_take_from(&input) {
        return (BufReader::with_capacity(UNBUFFERED, input), Holding::Pipes);
    }
    (BufReader::with_capacity(BUFFERED, input), Holding::Memory)
}

impl<R: Read + AsFd> HeldReader<R> {
    /// A y4m stream: its header is read now.
    pub fn y4m(input: R) -> Result<Self, VideoError> {
        let (input, holding) = buffered(input);
        Ok(HeldReader {
            frames: FrameReader::y4m(input)?,
            holding,
        })
    }

    /// Raw rgb24 frames of this size.
    pub fn rgb24(input: R, width: u32, height: u32) -> Self {
        let (input, holding) = buffered(input);
        HeldReader {
            frames: FrameReader::rgb24(input, width, height),
            holding,
        }
    }

    /// The input file, when frames are held by their place in it.
    #[cfg(target_os = "linux")]
    pub fn input_file(&self) -> Option<std::sync::Arc<std::os::fd::OwnedFd>> {
        match &self.holding {
            Holding::File(file) => Some(file.descriptor()),
            _ => None,
        }
    }

    /// The stream's format.
    pub fn framing(&self) -> &Framing {
        self.frames.framing()
    }

    /// The next whole frame; `None` at a clean end of stream.
    pub fn read(&mut self) -> Result<Option<Held>, VideoError> {
        match &mut self.holding {
            Holding::Memory => {
                let raw = self.frames.read_frame_into(frame_pool::take())?;
                Ok(raw.map(Held::Bytes))
            }
            #[cfg(target_os = "linux")]
            Holding::Pipes => self.read_piped(),
            #[cfg(target_os = "linux")]
            Holding::File(file) => Self::read_in_file(&mut self.frames, file),
        }
    }

    /// The next frame of a file, held as its place in the file.
    #[cfg(target_os = "linux")]
    fn read_in_file(
        frames: &mut FrameReader<BufReader<R>>,
        file: &mut InputFile,
    ) -> Result<Option<Held>, VideoError> {
        use std::io::BufRead;
        let at = |buffered: usize| file.position(buffered).map_err(|e| VideoError::io(0, e));
        let start = at(frames.input_mut().buffer().len())?;
        let Some(line) = frames.next_frame_line()? else {
            return Ok(None);
        };
        let input = frames.input_mut();
        let buffered = input.buffer().len();
        let payload = at(buffered)?;
        input.consume(buffered);
        let len = frames.framing().frame_len();
        let found = file
            .take(start, payload, len)
            .map_err(|e| VideoError::io(0, e))?;
        match found {
            Found::Whole(frame) => {
                frames.payload_taken();
                Ok(Some(Held::InFile { line, frame }))
            }
            Found::Short(read) => Err(frames.truncated(read)),
        }
    }

    /// The next frame of a pipe, held in pipes of our own.
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
