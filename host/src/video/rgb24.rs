//! Raw interleaved RGB24: no header, frames back to back.

use std::io::{self, Read, Write};

use scope_plugin_api::Frame;

use super::VideoError;

/// Reads raw RGB24 frames of a size given on the command line.
pub struct Rgb24Reader<R> {
    input: R,
    width: u32,
    height: u32,
    offset: u64,
    frame: u64,
}

impl<R: Read> Rgb24Reader<R> {
    /// A reader of `width × height` frames.
    pub fn new(input: R, width: u32, height: u32) -> Self {
        Rgb24Reader {
            input,
            width,
            height,
            offset: 0,
            frame: 0,
        }
    }

    /// The next frame, `None` at a clean end of stream.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, VideoError> {
        self.read_frame_into(Vec::new())
    }

    /// Like [`Rgb24Reader::read_frame`], reading into `buffer` (a frame's
    /// bytes given back by the sink; overwritten, not cleared first).
    pub fn read_frame_into(&mut self, mut data: Vec<u8>) -> Result<Option<Frame>, VideoError> {
        let size = self.width as usize * self.height as usize * 3;
        data.resize(size, 0);
        let mut filled = 0;
        while filled < size {
            match self.input.read(&mut data[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => {
                    return Err(VideoError::at(
                        self.offset,
                        format!(
                            "frame {} is truncated: {filled} of its {size} bytes are there (is --size {}x{} right?)",
                            self.frame + 1,
                            self.width,
                            self.height
                        ),
                    ))
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(VideoError::io(self.offset + filled as u64, e)),
            }
        }
        self.offset += size as u64;
        self.frame += 1;
        Ok(Some(
            Frame::from_rgb(self.width, self.height, data).expect("sized above"),
        ))
    }
}

/// Writes frames as raw RGB24.
pub fn write_frame(output: &mut impl Write, frame: &Frame) -> io::Result<()> {
    output.write_all(frame.data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_a_short_last_frame() {
        let frame = Frame::from_rgb(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &frame).unwrap();
        write_frame(&mut bytes, &frame).unwrap();
        let mut reader = Rgb24Reader::new(bytes.as_slice(), 2, 1);
        assert_eq!(reader.read_frame().unwrap(), Some(frame.clone()));
        assert_eq!(reader.read_frame().unwrap(), Some(frame));
        assert_eq!(reader.read_frame().unwrap(), None);

        bytes.push(9);
        let mut reader = Rgb24Reader::new(bytes.as_slice(), 2, 1);
        reader.read_frame().unwrap();
        reader.read_frame().unwrap();
        let err = reader.read_frame().unwrap_err().to_string();
        assert_eq!(
            err,
            "at byte 12: frame 3 is truncated: 1 of its 6 bytes are there (is --size 2x1 right?)"
        );
    }
}
