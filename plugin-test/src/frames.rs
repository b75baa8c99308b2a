//! Frames to feed a pipeline: solid colours, gradients, the host's own test
//! pattern, and y4m streams read or written as the host does.

use scope_host::video::y4m::{Tags, Y4mReader, Y4mWriter};
use scope_host::video::Rate;
use scope_plugin_api::Frame;

/// A frame of one colour.
pub fn solid(width: u32, height: u32, rgb: [u8; 3]) -> Frame {
    Frame::filled(width, height, rgb)
}

/// A frame whose red rises left to right and green top to bottom.
pub fn gradient(width: u32, height: u32) -> Frame {
    let level = |at: u32, size: u32| (at * 255 / size.saturating_sub(1).max(1)) as u8;
    let mut data = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            data.extend([level(x, width), level(y, height), 128]);
        }
    }
    Frame::from_rgb(width, height, data).expect("sized above")
}

/// Frame `index` of the host's test pattern (`--input testsrc`).
pub fn pattern(width: u32, height: u32, index: u64) -> Frame {
    scope_host::video::testsrc::frame(width, height, index)
}

/// The frames of a y4m stream, converted as the host converts them.
pub fn from_y4m(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let mut reader = Y4mReader::new(bytes).map_err(|e| e.to_string())?;
    let mut frames = Vec::new();
    while let Some(frame) = reader.read_frame().map_err(|e| e.to_string())? {
        frames.push(frame);
    }
    Ok(frames)
}

/// `frames` as a y4m stream (4:2:0, 30 fps), as the host writes it.
pub fn to_y4m(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(first) = frames.first() else {
        return out;
    };
    let mut writer = Y4mWriter::new(
        &mut out,
        first.width(),
        first.height(),
        Rate::new(30, 1),
        Tags::default(),
    )
    .expect("writing to memory");
    for frame in frames {
        writer.write_frame(frame).expect("writing to memory");
    }
    writer.flush().expect("writing to memory");
    drop(writer);
    out
}
