//! Streams read as whole frames of bytes, without decoding them: what a
//! process that passes frames along needs (scopectl's supervisor, which
//! owns the stream while hosts come and go).

use std::io::{BufRead, Read};

use super::y4m::{check_magic, parse_header, read_line, Header, EMPTY};
use super::VideoError;

/// One frame as it travels: its `FRAME…` line (y4m, without the newline;
/// empty for rgb24) and its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFrame {
    /// The `FRAME` line with its parameters (y4m), or empty (rgb24).
    pub line: String,
    /// The planes (y4m) or pixels (rgb24).
    pub data: Vec<u8>,
}

impl RawFrame {
    /// The frame as it is written to a stream.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if !self.line.is_empty() {
            out.write_all(self.line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.write_all(&self.data)
    }
}

/// A stream's format as far as framing goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// YUV4MPEG2 with this header line (without the newline).
    Y4m { line: String, header: Header },
    /// Raw RGB24 of this size.
    Rgb24 { width: u32, height: u32 },
}

impl Framing {
    /// Reads a y4m stream's header line.
    pub fn read_y4m(input: &mut impl BufRead) -> Result<Framing, VideoError> {
        check_magic(input)?;
        let line = read_line(input, 0)?.ok_or_else(|| VideoError::at(0, EMPTY))?;
        let header = parse_header(&line)?;
        Ok(Framing::Y4m { line, header })
    }

    /// The bytes of one frame, without its `FRAME` line.
    pub fn frame_len(&self) -> usize {
        match self {
            Framing::Y4m { header, .. } => {
                let (w, h) = (header.width as usize, header.height as usize);
                w * h + 2 * header.chroma.plane_size(w, h)
            }
            Framing::Rgb24 { width, height } => *width as usize * *height as usize * 3,
        }
    }

    /// The stream header as written (`YUV4MPEG2 …\n`), empty for rgb24.
    pub fn header_bytes(&self) -> Vec<u8> {
        match self {
            Framing::Y4m { line, .. } => format!("{line}\n").into_bytes(),
            Framing::Rgb24 { .. } => Vec::new(),
        }
    }

    /// Whether a frame of one stream can be written into the other as it is:
    /// the same size, planes and range (the header's other tags may differ).
    pub fn same_frames(&self, other: &Framing) -> bool {
        match (self, other) {
            (Framing::Y4m { header: a, .. }, Framing::Y4m { header: b, .. }) => {
                (a.width, a.height, a.chroma, a.tags.full_range)
                    == (b.width, b.height, b.chroma, b.tags.full_range)
            }
            (Framing::Rgb24 { .. }, Framing::Rgb24 { .. }) => self.size() == other.size(),
            _ => false,
        }
    }

    /// The frame size in pixels.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Framing::Y4m { header, .. } => (header.width, header.height),
            Framing::Rgb24 { width, height } => (*width, *height),
        }
    }
}

/// Reads a stream frame by frame, as bytes.
pub struct FrameReader<R> {
    input: R,
    framing: Framing,
    offset: u64,
    frames: u64,
    /// Where the current frame began.
    frame_at: u64,
}

impl<R: BufRead> FrameReader<R> {
    /// A y4m stream: reads its header.
    pub fn y4m(mut input: R) -> Result<Self, VideoError> {
        let framing = Framing::read_y4m(&mut input)?;
        let offset = framing.header_bytes().len() as u64;
        Ok(FrameReader {
            input,
            framing,
            offset,
            frames: 0,
            frame_at: 0,
        })
    }

    /// A raw rgb24 stream of frames of this size.
    pub fn rgb24(input: R, width: u32, height: u32) -> Self {
        let framing = Framing::Rgb24 { width, height };
        FrameReader {
            input,
            framing,
            offset: 0,
            frames: 0,
            frame_at: 0,
        }
    }

    /// The stream's format.
    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// The next whole frame; `None` at a clean end of stream.
    pub fn read_frame(&mut self) -> Result<Option<RawFrame>, VideoError> {
        self.read_frame_into(Vec::new())
    }

    /// [`FrameReader::read_frame`] into `spare`'s memory (a buffer of an
    /// earlier frame: no new pages to fault in for every frame).
    pub fn read_frame_into(&mut self, spare: Vec<u8>) -> Result<Option<RawFrame>, VideoError> {
        let Some(line) = self.next_frame_line()? else {
            return Ok(None);
        };
        // Read into capacity: no zeroing of a buffer about to be filled.
        // Until a whole frame has come, the buffer grows with the bytes
        // that arrive, never to a size the header only claims.
        let len = self.framing.frame_len();
        let mut data = spare;
        data.clear();
        data.reserve_exact(if self.frames > 0 {
            len
        } else {
            len.min(1 << 20)
        });
        let read = (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut data)
            .map_err(|e| VideoError::io(self.offset, e))?;
        if read < len {
            return Err(self.truncated(read));
        }
        self.payload_taken();
        Ok(Some(RawFrame { line, data }))
    }

    /// The start of the next frame: its `FRAME` line (empty for rgb24), or
    /// `None` at a clean end of stream. Its payload
    /// ([`Framing::frame_len`] bytes) comes next: the caller reads it from
    /// the input (what [`FrameReader::buffered`] holds first), then calls
    /// [`FrameReader::payload_taken`].
    pub fn next_frame_line(&mut self) -> Result<Option<String>, VideoError> {
        let at = self.offset;
        self.frame_at = at;
        match self.framing {
            Framing::Y4m { .. } => {
                let Some(line) = read_line(&mut self.input, at)? else {
                    return Ok(None);
                };
                if line != "FRAME" && !line.starts_with("FRAME ") {
                    let shown: String = line.chars().take(40).collect();
                    let n = self.frames + 1;
                    return Err(VideoError::at(
                        at,
                        format!("frame {n} should start with `FRAME`, found `{shown}`"),
                    ));
                }
                self.offset += line.len() as u64 + 1;
                Ok(Some(line))
            }
            Framing::Rgb24 { .. } => {
                let buffered = self.input.fill_buf().map_err(|e| VideoError::io(at, e))?;
                Ok((!buffered.is_empty()).then(String::new))
            }
        }
    }

    /// The input, to read a frame's payload from directly.
    pub fn input_mut(&mut self) -> &mut R {
        &mut self.input
    }

    /// A payload of which only `read` bytes came.
    pub fn truncated(&self, read: usize) -> VideoError {
        let (n, len) = (self.frames + 1, self.framing.frame_len());
        VideoError::at(
            self.frame_at,
            format!("frame {n} is truncated: {read} of its {len} bytes are there"),
        )
    }

    /// The current frame's payload was taken from the input.
    pub fn payload_taken(&mut self) {
        self.offset += self.framing.frame_len() as u64;
        self.frames += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frames_come_out_as_they_went_in_and_a_short_one_is_refused() {
        let mut stream =
            b"YUV4MPEG2 W2 H2 F30:1 C420jpeg\nFRAME\n012345FRAME Ixyz\nabcdef".to_vec();
        let mut reader = FrameReader::y4m(&stream[..]).unwrap();
        assert_eq!(reader.framing().frame_len(), 6);
        let first = reader.read_frame().unwrap().unwrap();
        let second = reader.read_frame().unwrap().unwrap();
        assert_eq!(reader.read_frame().unwrap(), None);
        let mut written = reader.framing().header_bytes();
        first.write_to(&mut written).unwrap();
        second.write_to(&mut written).unwrap();
        assert_eq!(written, stream);

        stream.truncate(stream.len() - 1);
        let mut reader = FrameReader::y4m(&stream[..]).unwrap();
        reader.read_frame().unwrap();
        let error = reader.read_frame().unwrap_err().to_string();
        assert!(
            error.contains("at byte 43: frame 2 is truncated"),
            "{error}"
        );
    }
}
