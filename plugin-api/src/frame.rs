use std::sync::Arc;
use std::time::Duration;

use crate::Error;

/// One video frame: 8-bit RGB, interleaved, row-major, `width × height × 3`
/// bytes, with its place in the stream: its index (from 0) and its
/// presentation time (from the input's frame rate, or `--fps`).
///
/// Cloning a frame is cheap: clones share their bytes until one of them is
/// written ([`Frame::data_mut`], [`Frame::map_float`]), which then writes
/// its own copy. The host relies on this to keep each call's input
/// unchanged (the frame contract) without copying it.
pub struct Frame {
    width: u32,
    height: u32,
    data: Arc<Vec<u8>>,
    index: u64,
    time: Duration,
    /// A buffer the host lends, for a write that must not touch shared
    /// bytes to land in without allocating.
    spare: Option<Vec<u8>>,
}

impl Clone for Frame {
    fn clone(&self) -> Self {
        Frame {
            width: self.width,
            height: self.height,
            data: Arc::clone(&self.data),
            index: self.index,
            time: self.time,
            spare: None,
        }
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        (self.width, self.height, self.index, self.time)
            == (other.width, other.height, other.index, other.time)
            && self.data == other.data
    }
}

impl Eq for Frame {}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}

impl Frame {
    /// A black frame.
    pub fn new(width: u32, height: u32) -> Self {
        Frame::filled(width, height, [0, 0, 0])
    }

    /// A frame of one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let pixels = width as usize * height as usize;
        let data = if rgb == [rgb[0]; 3] {
            vec![rgb[0]; pixels * 3]
        } else {
            rgb.iter().copied().cycle().take(pixels * 3).collect()
        };
        Frame::own(width, height, data)
    }

    fn own(width: u32, height: u32, data: Vec<u8>) -> Frame {
        Frame {
            width,
            height,
            data: Arc::new(data),
            index: 0,
            time: Duration::ZERO,
            spare: None,
        }
    }

    /// Wraps RGB bytes; refuses a buffer of the wrong length.
    pub fn from_rgb(width: u32, height: u32, data: Vec<u8>) -> Result<Self, Error> {
        let expected = width as usize * height as usize * 3;
        if data.len() != expected {
            return Err(Error::new(format!(
                "a {width}x{height} RGB frame has {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Frame::own(width, height, data))
    }

    /// The frame's position in the stream, from 0. The host sets it; a
    /// pipeline's output frames keep their input's (see the frame contract).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The frame's presentation time: `index / frame rate`.
    pub fn time(&self) -> Duration {
        self.time
    }

    /// The same frame at another place in the stream (for pipelines that
    /// make new frames, e.g. interpolation, and for the host).
    pub fn with_timing(mut self, index: u64, time: Duration) -> Frame {
        self.index = index;
        self.time = time;
        self
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGB bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The RGB bytes, writable. Bytes shared with a clone are copied first
    /// (into the host's spare buffer when it lent one).
    pub fn data_mut(&mut self) -> &mut [u8] {
        if Arc::get_mut(&mut self.data).is_none() {
            let mut own = self.take_spare().unwrap_or_default();
            own.clear();
            own.extend_from_slice(&self.data);
            self.data = Arc::new(own);
        }
        Arc::get_mut(&mut self.data).expect("unshared just above")
    }

    /// The RGB bytes, owned (copied when a clone shares them).
    pub fn into_data(self) -> Vec<u8> {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| shared.as_ref().clone())
    }

    /// The pixel at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// The frame as floats in `[0, 1]`.
    pub fn to_float(&self) -> FloatFrame {
        FloatFrame {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&b| f32::from(b) / 255.0).collect(),
        }
    }

    /// Applies `f` to every channel value as a float in `[0, 1]`; results are
    /// clamped and rounded back to bytes. `f` is evaluated once per possible
    /// byte value, so this costs a table lookup per byte. Bytes shared with
    /// a clone are left as they are: the result is written beside them.
    pub fn map_float(mut self, f: impl Fn(f32) -> f32) -> Frame {
        let mut table = [0u8; 256];
        for (i, out) in table.iter_mut().enumerate() {
            *out = to_byte(f(i as f32 / 255.0));
        }
        match Arc::get_mut(&mut self.data) {
            Some(data) => crate::table::apply(&table, data),
            None => {
                let mut out = self
                    .take_spare()
                    .unwrap_or_else(|| vec![0; self.data.len()]);
                crate::table::apply_into(&table, &self.data, &mut out);
                self.data = Arc::new(out);
            }
        }
        self
    }

    /// For the host: lends a buffer that a write to shared bytes may land
    /// in (one of another length is not kept).
    #[doc(hidden)]
    pub fn lend_spare(&mut self, buffer: Vec<u8>) {
        if buffer.len() == self.data.len() {
            self.spare = Some(buffer);
        }
    }

    /// For the host: the lent buffer, if the frame did not use it.
    #[doc(hidden)]
    pub fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.spare.take()
    }

    /// For the host: the bytes when no clone shares them.
    #[doc(hidden)]
    pub fn into_unshared(self) -> Option<Vec<u8>> {
        Arc::try_unwrap(self.data).ok()
    }
}

/// A frame as floats in `[0, 1]`, for processing that is easier in floating
/// point. Convert back with [`FloatFrame::to_frame`].
#[derive(Clone, PartialEq)]
pub struct FloatFrame {
    width: u32,
    height: u32,
    data: Vec<f32>,
}

impl std::fmt::Debug for FloatFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FloatFrame({}x{})", self.width, self.height)
    }
}

impl FloatFrame {
    /// Wraps RGB floats; refuses a buffer of the wrong length.
    pub fn from_data(width: u32, height: u32, data: Vec<f32>) -> Result<Self, Error> {
        let expected = width as usize * height as usize * 3;
        if data.len() != expected {
            return Err(Error::new(format!(
                "a {width}x{height} RGB frame has {expected} values, got {}",
                data.len()
            )));
        }
        Ok(FloatFrame {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGB values.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The RGB values, writable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Back to bytes: values are clamped to `[0, 1]` and rounded. (The
    /// frame is at index 0; the host gives a pipeline's output frames their
    /// input's timing.)
    pub fn to_frame(&self) -> Frame {
        Frame::own(
            self.width,
            self.height,
            self.data.iter().map(|&v| to_byte(v)).collect(),
        )
    }
}

fn to_byte(v: f32) -> u8 {
    // NaN stays NaN through `clamp`, and `NaN as u8` is 0.
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_round_trip_is_lossless() {
        let data: Vec<u8> = (0..=255).cycle().take(4 * 2 * 3).collect();
        let frame = Frame::from_rgb(4, 2, data).unwrap();
        assert_eq!(frame.to_float().to_frame(), frame);
    }

    #[test]
    fn writes_to_shared_bytes_leave_the_clone_as_it_was() {
        let original = Frame::filled(2, 2, [10, 20, 30]);
        let kept = original.clone();
        assert_eq!(kept.data().as_ptr(), original.data().as_ptr(), "shared");

        // map_float writes beside, into the lent buffer when there is one.
        let mut lent = original.clone();
        let spare = vec![0; 12];
        let spare_at = spare.as_ptr();
        lent.lend_spare(spare);
        let mapped = lent.map_float(|v| 1.0 - v);
        assert_eq!(mapped.pixel(0, 0), [245, 235, 225]);
        assert_eq!(mapped.data().as_ptr(), spare_at, "written into the spare");
        assert_eq!(kept.pixel(0, 0), [10, 20, 30]);

        let mut written = original.clone();
        written.data_mut()[0] = 99;
        assert_eq!(written.pixel(0, 0), [99, 20, 30]);
        assert_eq!(kept.pixel(0, 0), [10, 20, 30]);
        assert_eq!(original, kept);

        // Alone again, the bytes are the host's to recycle.
        drop((original, mapped, written));
        assert_eq!(kept.into_unshared().map(|b| b.len()), Some(12));
    }

    #[test]
    fn an_unshared_frame_is_written_in_place() {
        let frame = Frame::filled(2, 1, [1, 2, 3]);
        let at = frame.data().as_ptr();
        let mapped = frame.map_float(|v| v * 0.5);
        assert_eq!(mapped.data().as_ptr(), at);
    }

    #[test]
    fn map_float_clamps_and_rounds() {
        let frame = Frame::filled(2, 1, [0, 128, 255]).map_float(|v| v * 2.0 - 0.1);
        assert_eq!(frame.pixel(0, 0), [0, 231, 255]);
        assert_eq!(frame.pixel(1, 0), [0, 231, 255]);
        let nan = Frame::filled(1, 1, [9, 9, 9]).map_float(|_| f32::NAN);
        assert_eq!(nan.pixel(0, 0), [0, 0, 0]);
    }

    #[test]
    fn map_float_by_table_is_bit_identical_to_evaluating_every_byte() {
        // Every byte value, in every channel position.
        let data: Vec<u8> = (0..=255u8).flat_map(|b| [b, 255 - b, b]).collect();
        let frame = Frame::from_rgb(256, 1, data.clone()).unwrap();
        let invert = |t: f32| move |v: f32| v * (1.0 - t) + (1.0 - v) * t;
        let functions: Vec<Box<dyn Fn(f32) -> f32>> = vec![
            Box::new(invert(1.0)),
            Box::new(invert(0.3)),
            Box::new(invert(0.0)),
            Box::new(|v: f32| v.powf(2.2)),
            Box::new(|v: f32| (v - 0.5) * 3.0 + 0.5),
            Box::new(|v: f32| if v > 0.5 { f32::NAN } else { -v }),
        ];
        for (n, f) in functions.iter().enumerate() {
            let by_table = frame.clone().map_float(f);
            let by_byte: Vec<u8> = data
                .iter()
                .map(|&b| to_byte(f(f32::from(b) / 255.0)))
                .collect();
            assert_eq!(by_table.data(), &by_byte[..], "function {n}");
        }
    }

    #[test]
    fn from_rgb_refuses_a_short_buffer() {
        let err = Frame::from_rgb(2, 2, vec![0; 11]).unwrap_err();
        assert_eq!(err.message(), "a 2x2 RGB frame has 12 bytes, got 11");
    }
}
