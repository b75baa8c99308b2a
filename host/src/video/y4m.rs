//! YUV4MPEG2 reading and writing, 8-bit only.
//!
//! Not the `y4m` crate: it reports a frame cut short as a clean end of
//! stream and carries no positions in its errors, and both matter here.

use std::io::{self, BufRead, Read, Write};

use scope_plugin_api::Frame;

use super::color;
use super::{Rate, VideoError};

const MAX_HEADER: usize = 4096;
/// Larger than any real video, small enough that a hostile header cannot
/// make the host allocate gigabytes.
const MAX_PIXELS: usize = 16384 * 16384;

/// How chroma is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// One chroma pair per 2×2 pixels (every 4:2:0 siting variant).
    C420,
    /// One chroma pair per 2×1 pixels.
    C422,
    /// One chroma pair per pixel.
    C444,
    /// Luma only.
    Mono,
}

impl Chroma {
    fn parse(tag: &str) -> Option<Chroma> {
        Some(match tag {
            "420" | "420jpeg" | "420mpeg2" | "420paldv" => Chroma::C420,
            "422" => Chroma::C422,
            "444" => Chroma::C444,
            "mono" => Chroma::Mono,
            _ => return None,
        })
    }

    pub(super) fn plane_size(self, width: usize, height: usize) -> usize {
        match self {
            Chroma::C420 => width.div_ceil(2) * height.div_ceil(2),
            Chroma::C422 => width.div_ceil(2) * height,
            Chroma::C444 => width * height,
            Chroma::Mono => 0,
        }
    }
}

/// The stream header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frame rate.
    pub rate: Rate,
    /// Chroma layout.
    pub chroma: Chroma,
    /// What the output carries over: interlacing, aspect, range.
    pub tags: Tags,
}

/// The header fields a stream's output keeps from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tags {
    /// `p` (progressive), `t`/`b` (top/bottom field first), `m` (mixed).
    pub interlace: u8,
    /// Pixel aspect ratio, `0:0` when unknown.
    pub aspect: (u32, u32),
    /// `XCOLORRANGE=FULL`: samples use 0-255 rather than 16-235/240.
    pub full_range: bool,
}

impl Default for Tags {
    fn default() -> Tags {
        Tags {
            interlace: b'p',
            aspect: (1, 1),
            full_range: false,
        }
    }
}

/// Full-range samples as limited-range ones (luma 0-255 to 16-235,
/// chroma to 16-240), which is what the colour conversion reads, and back.
struct RangeTables {
    luma_in: [u8; 256],
    chroma_in: [u8; 256],
    luma_out: [u8; 256],
    chroma_out: [u8; 256],
}

fn range_tables() -> &'static RangeTables {
    static TABLES: std::sync::OnceLock<RangeTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let table = |f: &dyn Fn(f64) -> f64| {
            std::array::from_fn(|i| f(i as f64).round().clamp(0.0, 255.0) as u8)
        };
        RangeTables {
            luma_in: table(&|v| 16.0 + v * 219.0 / 255.0),
            chroma_in: table(&|v| 128.0 + (v - 128.0) * 224.0 / 255.0),
            luma_out: table(&|v| (v - 16.0) * 255.0 / 219.0),
            chroma_out: table(&|v| 128.0 + (v - 128.0) * 255.0 / 224.0),
        }
    })
}

/// Maps the planes of one frame (luma first) through `luma` and `chroma`.
fn remap(planes: &mut [u8], luma_len: usize, luma: &[u8; 256], chroma: &[u8; 256]) {
    let (y, c) = planes.split_at_mut(luma_len);
    y.iter_mut().for_each(|v| *v = luma[*v as usize]);
    c.iter_mut().for_each(|v| *v = chroma[*v as usize]);
}

/// Reads frames from a YUV4MPEG2 stream and converts them to RGB.
pub struct Y4mReader<R> {
    input: R,
    header: Header,
    frame_len: usize,
    planes: Vec<u8>,
    offset: u64,
    frame: u64,
}

impl<R: BufRead> Y4mReader<R> {
    /// Reads and checks the stream header.
    pub fn new(mut input: R) -> Result<Self, VideoError> {
        check_magic(&mut input)?;
        let line = read_line(&mut input, 0)?.ok_or_else(|| VideoError::at(0, EMPTY))?;
        let header = parse_header(&line)?;
        let (w, h) = (header.width as usize, header.height as usize);
        let size = w * h + 2 * header.chroma.plane_size(w, h);
        Ok(Y4mReader {
            input,
            header,
            frame_len: size,
            // Filled by the first frame as its bytes arrive: never sized by
            // what the header only claims.
            planes: Vec::new(),
            offset: line.len() as u64 + 1,
            frame: 0,
        })
    }

    /// The stream header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The next frame, `None` at a clean end of stream.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, VideoError> {
        self.read_frame_into(Vec::new())
    }

    /// Like [`Y4mReader::read_frame`], converting into `buffer` (a frame's
    /// bytes given back by the sink: of the right size, it is overwritten
    /// without being cleared first).
    pub fn read_frame_into(&mut self, buffer: Vec<u8>) -> Result<Option<Frame>, VideoError> {
        let at = self.offset;
        let Some(line) = read_line(&mut self.input, at)? else {
            return Ok(None);
        };
        if line != "FRAME" && !line.starts_with("FRAME ") {
            let shown: String = line.chars().take(40).collect();
            return Err(VideoError::at(
                at,
                format!(
                    "frame {} should start with `FRAME`, found `{shown}`",
                    self.frame + 1
                ),
            ));
        }
        self.offset += line.len() as u64 + 1;
        let first = self.planes.len() < self.frame_len;
        if first {
            let len = self.frame_len;
            self.planes.clear();
            let filled = (&mut self.input)
                .take(len as u64)
                .read_to_end(&mut self.planes)
                .map_err(|e| VideoError::io(self.offset, e))?;
            if filled < len {
                return Err(VideoError::at(
                    at,
                    format!(
                        "frame {} is truncated: {filled} of its {len} bytes are there",
                        self.frame + 1
                    ),
                ));
            }
        }
        // Later frames reuse the buffer the first one proved the size of.
        let mut filled = if first { self.planes.len() } else { 0 };
        while filled < self.planes.len() {
            match self.input.read(&mut self.planes[filled..]) {
                Ok(0) => {
                    return Err(VideoError::at(
                        at,
                        format!(
                            "frame {} is truncated: {filled} of its {} bytes are there",
                            self.frame + 1,
                            self.planes.len()
                        ),
                    ))
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(VideoError::io(self.offset + filled as u64, e)),
            }
        }
        self.offset += self.planes.len() as u64;
        self.frame += 1;
        if self.header.tags.full_range {
            let t = range_tables();
            let luma = (self.header.width * self.header.height) as usize;
            remap(&mut self.planes, luma, &t.luma_in, &t.chroma_in);
        }
        Ok(Some(self.to_rgb(buffer)))
    }

    fn to_rgb(&self, mut rgb: Vec<u8>) -> Frame {
        let Header {
            width,
            height,
            chroma,
            ..
        } = self.header;
        let (w, h) = (width as usize, height as usize);
        // Every byte is written below: only a buffer that grows is zeroed.
        rgb.resize(w * h * 3, 0);
        let (luma, rest) = self.planes.split_at(w * h);
        let (u, v) = rest.split_at(chroma.plane_size(w, h));
        color::planes_to_rgb(chroma, (width, height), (luma, u, v), &mut rgb);
        Frame::from_rgb(width, height, rgb).expect("buffer sized from the header")
    }
}

pub(super) const EMPTY: &str =
    "the input is empty: whatever was to write it wrote nothing (did it fail?)";
const MAGIC: &[u8] = b"YUV4MPEG2";

/// Refuses a stream that is not YUV4MPEG2 before reading a header line, so
/// that raw RGB or a container file gets a message about what it is.
pub(super) fn check_magic(input: &mut impl BufRead) -> Result<(), VideoError> {
    let start = input.fill_buf().map_err(|e| VideoError::io(0, e))?;
    if start.is_empty() {
        return Err(VideoError::at(0, EMPTY));
    }
    let n = start.len().min(MAGIC.len());
    if start[..n] == MAGIC[..n] {
        return Ok(());
    }
    let shown: String = start
        .iter()
        .take(8)
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    Err(VideoError::at(
        0,
        format!(
            "not a YUV4MPEG2 stream: it starts with `{shown}`, not `YUV4MPEG2`; for raw RGB give `--input-format rgb24 --size WxH`, for other video convert it: `ffmpeg -i INPUT -f yuv4mpegpipe -pix_fmt yuv420p -`"
        ),
    ))
}

pub(super) fn parse_header(line: &str) -> Result<Header, VideoError> {
    let mut fields = line.split(' ');
    if fields.next() != Some("YUV4MPEG2") {
        let shown: String = line.chars().take(20).collect();
        return Err(VideoError::at(
            0,
            format!("not a YUV4MPEG2 stream: it starts with `{shown}`, not `YUV4MPEG2`"),
        ));
    }
    let (mut width, mut height) = (None, None);
    let mut rate = Rate::new(25, 1);
    let mut chroma = Chroma::C420;
    let mut tags = Tags::default();
    let mut offset = "YUV4MPEG2".len() as u64 + 1;
    for field in fields {
        let bad = |what: &str| {
            VideoError::at(offset, format!("bad {what} `{field}` in the stream header"))
        };
        let value = field.get(1..).unwrap_or("");
        match field.as_bytes().first() {
            Some(b'W') => width = Some(value.parse::<u32>().map_err(|_| bad("width"))?),
            Some(b'H') => height = Some(value.parse::<u32>().map_err(|_| bad("height"))?),
            Some(b'F') => rate = Rate::parse(value).ok_or_else(|| bad("frame rate"))?,
            Some(b'C') => {
                chroma = Chroma::parse(value).ok_or_else(|| {
                    let hint = if value.contains('p') {
                        "only 8-bit streams are read; convert with `ffmpeg ... -pix_fmt yuv420p`"
                    } else {
                        "the host reads 420 (any siting), 422, 444 and mono"
                    };
                    VideoError::at(
                        offset,
                        format!("unsupported colour space `C{value}`: {hint}"),
                    )
                })?;
            }
            Some(b'I') => {
                // `?` (unknown) reads as progressive, as ffmpeg reads it.
                if let [kind @ (b'p' | b't' | b'b' | b'm')] = value.as_bytes() {
                    tags.interlace = *kind;
                }
            }
            Some(b'A') => {
                let (n, d) = value.split_once(':').ok_or_else(|| bad("aspect ratio"))?;
                tags.aspect = (
                    n.parse().map_err(|_| bad("aspect ratio"))?,
                    d.parse().map_err(|_| bad("aspect ratio"))?,
                );
            }
            Some(b'X') => match value {
                "COLORRANGE=FULL" => tags.full_range = true,
                "COLORRANGE=LIMITED" => tags.full_range = false,
                // Other extensions carry nothing the host needs.
                _ => {}
            },
            None => {}
            Some(_) => return Err(bad("field")),
        }
        offset += field.len() as u64 + 1;
    }
    let missing = |what| VideoError::at(0, format!("the stream header has no {what}"));
    let width = width.ok_or_else(|| missing("width (`W`)"))?;
    let height = height.ok_or_else(|| missing("height (`H`)"))?;
    if width == 0 || height == 0 || (width as usize) * (height as usize) > MAX_PIXELS {
        return Err(VideoError::at(
            0,
            format!("unsupported frame size {width}x{height}"),
        ));
    }
    Ok(Header {
        width,
        height,
        rate,
        chroma,
        tags,
    })
}

/// Reads one `\n`-terminated line of at most [`MAX_HEADER`] bytes. `None` at
/// end of input before any byte.
pub(super) fn read_line(input: &mut impl BufRead, at: u64) -> Result<Option<String>, VideoError> {
    let mut line = Vec::new();
    let mut limited = input.by_ref().take(MAX_HEADER as u64 + 1);
    limited
        .read_until(b'\n', &mut line)
        .map_err(|e| VideoError::io(at, e))?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        let why = if line.len() >= MAX_HEADER {
            format!("a header line is longer than {MAX_HEADER} bytes")
        } else {
            "the input ends inside a header line".to_owned()
        };
        return Err(VideoError::at(at, why));
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| VideoError::at(at, "a header line is not text"))
}

/// A frame's line, without parameters.
const FRAME_LINE: &[u8] = b"FRAME\n";

/// The header line (with its newline) of a 4:2:0 stream of this size, with
/// the input's interlacing, aspect and range.
pub fn header_line(width: u32, height: u32, rate: Rate, tags: Tags) -> String {
    let range = if tags.full_range {
        " XCOLORRANGE=FULL"
    } else {
        ""
    };
    format!(
        "YUV4MPEG2 W{width} H{height} F{}:{} I{} A{}:{} C420jpeg XYSCSS=420JPEG{range}\n",
        rate.num, rate.den, tags.interlace as char, tags.aspect.0, tags.aspect.1
    )
}

/// The bytes of a 4:2:0 frame's planes.
pub fn frame_len420(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * Chroma::C420.plane_size(w, h)
}

/// Converts an RGB frame into 4:2:0 `planes` ([`frame_len420`] bytes),
/// full range or not.
pub fn encode420(frame: &Frame, full_range: bool, planes: &mut [u8]) {
    let (width, height) = (frame.width(), frame.height());
    let (w, h) = (width as usize, height as usize);
    let (luma, chroma) = planes.split_at_mut(w * h);
    let (u, v) = chroma.split_at_mut(Chroma::C420.plane_size(w, h));
    color::rgb_to_planes420(frame.data(), (width, height), (luma, u, v));
    if full_range {
        let t = range_tables();
        remap(planes, w * h, &t.luma_out, &t.chroma_out);
    }
}

/// Writes RGB frames as a 4:2:0 YUV4MPEG2 stream.
pub struct Y4mWriter<W> {
    output: W,
    /// The frame as written: its line, then its planes.
    frame: Vec<u8>,
    full_range: bool,
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the stream header, with the input's interlacing, aspect and range.
    pub fn new(mut output: W, width: u32, height: u32, rate: Rate, tags: Tags) -> io::Result<Self> {
        output.write_all(header_line(width, height, rate, tags).as_bytes())?;
        let size = frame_len420(width, height);
        Ok(Y4mWriter {
            output,
            frame: [FRAME_LINE, &vec![0; size]].concat(),
            full_range: tags.full_range,
        })
    }

    /// Converts and writes one frame, which must have the stream's size.
    pub fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        encode420(frame, self.full_range, &mut self.frame[FRAME_LINE.len()..]);
        // One write for the line and the planes: a reader on a pipe wakes
        // once for them, not once for six bytes first.
        self.output.write_all(&self.frame)
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.output.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(header: &str, frames: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("{header}\n").into_bytes();
        for f in frames {
            out.extend_from_slice(b"FRAME\n");
            out.extend_from_slice(f);
        }
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Frame>, VideoError> {
        let mut reader = Y4mReader::new(bytes)?;
        let mut frames = Vec::new();
        while let Some(f) = reader.read_frame()? {
            frames.push(f);
        }
        Ok(frames)
    }

    #[test]
    fn reads_420_with_every_siting_tag() {
        // 2x2 white luma, neutral chroma.
        for tag in ["", " C420", " C420jpeg", " C420mpeg2", " C420paldv"] {
            let bytes = stream(
                &format!("YUV4MPEG2 W2 H2 F30:1 Ip A1:1{tag}"),
                &[&[235, 235, 235, 235, 128, 128]],
            );
            let frames = read_all(&bytes).unwrap();
            assert_eq!(frames.len(), 1, "{tag}");
            assert!(frames[0].data().iter().all(|&b| b == 255), "{tag}");
        }
    }

    #[test]
    fn reads_444_and_mono() {
        let c444 = stream(
            "YUV4MPEG2 W2 H1 F25:1 C444",
            &[&[16, 235, 128, 128, 128, 128]],
        );
        assert_eq!(
            read_all(&c444).unwrap()[0].data(),
            &[0, 0, 0, 255, 255, 255]
        );
        let mono = stream("YUV4MPEG2 W3 H1 F25:1 Cmono", &[&[16, 126, 235]]);
        assert_eq!(
            read_all(&mono).unwrap()[0].data(),
            &[0, 0, 0, 128, 128, 128, 255, 255, 255]
        );
    }

    #[test]
    fn odd_sizes_round_trip_through_the_writer() {
        let rgb: Vec<u8> = (0..5 * 3 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let frame = Frame::from_rgb(5, 3, rgb).unwrap();
        let mut out = Vec::new();
        let mut writer = Y4mWriter::new(&mut out, 5, 3, Rate::new(30, 1), Tags::default()).unwrap();
        writer.write_frame(&frame).unwrap();
        writer.write_frame(&frame).unwrap();
        let frames = read_all(&out).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[1].width(), frames[1].height()), (5, 3));
    }

    #[test]
    fn frame_headers_with_parameters_are_accepted() {
        let mut bytes = stream("YUV4MPEG2 W1 H1 Cmono", &[]);
        bytes.extend_from_slice(b"FRAME Ip XFOO=1\n\x10");
        assert_eq!(read_all(&bytes).unwrap().len(), 1);
    }

    #[test]
    fn a_truncated_frame_is_an_error_with_its_offset() {
        let mut bytes = stream("YUV4MPEG2 W2 H2 C420jpeg", &[&[1, 2, 3, 4, 5, 6]]);
        bytes.extend_from_slice(b"FRAME\n\x01\x02");
        let err = read_all(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "at byte 37: frame 2 is truncated: 2 of its 6 bytes are there"
        );
    }

    #[test]
    fn malformed_input_is_refused_with_a_reason() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "the input is empty: whatever was to write it wrote nothing (did it fail?)",
            ),
            (b"RIFF1234\n", "not a YUV4MPEG2 stream"),
            // Raw RGB, no line breaks: named as such, not "a header line is too long".
            (
                &[7u8; 6000],
                "for raw RGB give `--input-format rgb24 --size WxH`",
            ),
            // An mp4's first bytes.
            (
                b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00",
                "it starts with `\\x00\\x00\\x00\\x20ftyp`, not `YUV4MPEG2`",
            ),
            (b"YUV4MPEG2 W2 H2", "ends inside a header line"),
            (b"YUV4MPEG2 W2 H2 C420p10\n", "only 8-bit streams"),
            (b"YUV4MPEG2 Wtwo H2\n", "bad width `Wtwo`"),
            (b"YUV4MPEG2 H2\n", "no width"),
            (b"YUV4MPEG2 W0 H2\n", "unsupported frame size 0x2"),
            (b"YUV4MPEG2 W99999 H99999\n", "unsupported frame size"),
            (
                b"YUV4MPEG2 W1 H1 Cmono\nFRAMX\n\x10",
                "frame 1 should start with `FRAME`, found `FRAMX`",
            ),
            (b"YUV4MPEG2 W1 H1 F0:0\n", "bad frame rate"),
        ];
        for (bytes, expected) in cases {
            let err = read_all(bytes).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
        let long = [b"YUV4MPEG2 W1 H1 X".as_slice(), &[b'a'; 5000], b"\n"].concat();
        assert!(read_all(&long)
            .unwrap_err()
            .to_string()
            .contains("longer than"));
    }
}
