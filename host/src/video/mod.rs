//! Video in and out: YUV4MPEG2 and raw RGB24 streams, the colour conversion
//! between them and the host's RGB frames, and the built-in test pattern.

#[cfg(unix)]
pub mod by_offset;
pub mod color;
pub mod framing;
pub mod rgb24;
pub mod scale;
#[cfg(unix)]
pub mod slots;
pub mod testsrc;
pub mod y4m;

use std::fmt;
use std::io;

/// A frame rate as a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Numerator.
    pub num: u32,
    /// Denominator.
    pub den: u32,
}

impl Rate {
    /// `num / den` frames per second.
    pub fn new(num: u32, den: u32) -> Self {
        Rate { num, den }
    }

    /// When frame `index` is shown: `index × den / num` seconds.
    pub fn time_of(&self, index: u64) -> std::time::Duration {
        let nanos = u128::from(index) * u128::from(self.den) * 1_000_000_000 / u128::from(self.num);
        std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// This rate times `out / per` (a pipeline returning `out` frames per
    /// `per` in), reduced.
    pub fn scaled(self, out: u32, per: u32) -> Rate {
        let (num, den) = (
            u64::from(self.num) * u64::from(out),
            u64::from(self.den) * u64::from(per),
        );
        let (mut a, mut b) = (num, den);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        let divisor = a.max(1);
        Rate::new(
            u32::try_from(num / divisor).unwrap_or(u32::MAX),
            u32::try_from(den / divisor).unwrap_or(u32::MAX),
        )
    }

    /// Parses `N` or `N:D`; refuses zero and garbage.
    pub fn parse(text: &str) -> Option<Rate> {
        let (num, den) = text.split_once(':').unwrap_or((text, "1"));
        let rate = Rate::new(num.parse().ok()?, den.parse().ok()?);
        (rate.num > 0 && rate.den > 0).then_some(rate)
    }
}

/// A stream that could not be read, with the byte offset where it went wrong.
#[derive(Debug)]
pub struct VideoError {
    offset: u64,
    message: String,
    source: Option<io::Error>,
}

impl VideoError {
    /// An error at byte `offset` of the stream.
    pub fn at(offset: u64, message: impl Into<String>) -> Self {
        VideoError {
            offset,
            message: message.into(),
            source: None,
        }
    }

    /// A read failure at byte `offset`.
    pub fn io(offset: u64, source: io::Error) -> Self {
        VideoError {
            offset,
            message: "reading failed".into(),
            source: Some(source),
        }
    }
}

impl fmt::Display for VideoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VideoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// Widens the process's stdin and stdout to 1 MiB where they are pipes
/// (the unprivileged maximum on Linux): a pipe holds 64 KiB by default, and
/// a 1080p frame crossed one in 48 rounds of wake-ups of both its ends (a
/// hundred context switches a frame with `| ffplay -`). Not a pipe, or
/// not allowed: nothing changes.
pub fn widen_own_pipes() {
    #[cfg(target_os = "linux")]
    for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO] {
        // SAFETY: F_SETPIPE_SZ takes an int and only resizes a pipe; any
        // other descriptor (or none) is refused with an error we ignore.
        #[allow(unsafe_code)]
        unsafe {
            libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
        }
    }
}

/// Standard output for video: the file descriptor itself where possible.
/// `std::io::stdout()` is line-buffered, and scanning every 3 MB frame for
/// newlines costs a few percent of a 1080p run.
pub fn raw_stdout() -> Box<dyn io::Write + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(io::stdout())
}
