//! Handing a frame to a pipe without copying it: `vmsplice(2)` lends the
//! frame's pages to the pipe, and the reader copies them out. The frame
//! must not change or be freed until it is read: frames are immutable once
//! read (they are shared behind `Arc`s), and the writer keeps the frames it
//! lent alive until the pipe must have let them go (see [`Lent`]). That
//! holds for a reader that copies, as hosts do; a reader that moves the
//! pipe's pages on (`pv` splices them) could still see a reused buffer, so
//! the stream's output copies frames held in memory
//! (`session::Output::write`).
//!
//! Anything that is not a pipe (a file, a terminal), and other systems, get
//! a plain write. A frame held in pipes ([`super::piped`]) is given by
//! `tee(2)` and `splice(2)` instead.

use std::collections::VecDeque;
use std::io::{self, Write};

use super::held::Held;
use super::session::Shared;

/// What a writer keeps between frames: the frames it lent, and the pipe it
/// stages frames held in pipes through.
#[derive(Default)]
pub struct Giver {
    lent: Lent,
    #[cfg(target_os = "linux")]
    staging: super::piped::Staging,
    /// Whether the writer's descriptor takes `splice(2)` (a pipe or a
    /// file; not a terminal), once known.
    #[cfg(target_os = "linux")]
    splices: Option<bool>,
}

impl Giver {
    /// Whether `out` takes `splice(2)` (asked once).
    #[cfg(target_os = "linux")]
    fn splices_to(&mut self, out: &impl std::os::fd::AsFd) -> bool {
        *self
            .splices
            .get_or_insert_with(|| super::piped::can_take_from(out))
    }
}

/// Frames lent to a pipe, kept alive until the pipe must have let them go.
///
/// A pipe holds at most its capacity in buffers, one per page lent. Once
/// the frames lent after a frame fill that many buffers, the reader has
/// taken it (a pipe is first in, first out), and it may be freed.
#[derive(Default)]
struct Lent {
    frames: VecDeque<(Shared, usize)>,
}

impl Lent {
    #[cfg(target_os = "linux")]
    fn keep<Fd: std::os::fd::AsFd>(&mut self, pipe: &Fd, frame: &Shared) {
        let page = rustix::param::page_size();
        // At least this many buffers: the pages the bytes span.
        let Held::Bytes(raw) = &**frame else { return };
        let buffers = raw.data.len().div_ceil(page);
        self.frames.push_back((frame.clone(), buffers));
        let capacity =
            rustix::pipe::fcntl_getpipe_size(pipe).map_or(usize::MAX, |bytes| bytes / page);
        loop {
            let after_first: usize = self.frames.iter().skip(1).map(|(_, n)| n).sum();
            if self.frames.len() < 2 || after_first < capacity {
                break;
            }
            if let Some((frame, _)) = self.frames.pop_front() {
                super::frame_pool::release(frame);
            }
        }
    }
}

/// Writes `frame` (its `FRAME` line and bytes) to `out`: lent to the pipe
/// when `out` is one, written otherwise.
#[cfg(target_os = "linux")]
pub fn give<W: Write + std::os::fd::AsFd>(
    out: &mut W,
    frame: &Shared,
    giver: &mut Giver,
) -> io::Result<()> {
    let (line, raw) = match &**frame {
        Held::Bytes(raw) => (&raw.line, raw),
        Held::Piped { line, payload } => {
            if !giver.splices_to(out) {
                return frame.write_to(out);
            }
            if !line.is_empty() {
                out.write_all(format!("{line}\n").as_bytes())?;
            }
            return payload.give(out, &mut giver.staging);
        }
        Held::InFile { frame: in_file, .. } => {
            if giver.splices_to(out) && in_file.give(out)? {
                return Ok(());
            }
            return frame.write_to(out);
        }
    };
    let lent = &mut giver.lent;
    // The `FRAME` line is copied: only the frame's own bytes live long enough to lend.
    if !line.is_empty() {
        out.write_all(format!("{line}\n").as_bytes())?;
    }
    let mut data: &[u8] = &raw.data;
    let mut first = true;
    while !data.is_empty() {
        let slice = [rustix::pipe::IoSliceRaw::from_slice(data)];
        // SAFETY: `out` is only ever the write end of a pipe we write to (a
        // host's stdin, or our stdout), so the kernel reads this memory and
        // never writes it; the frame stays alive in `lent` until the pipe
        // has room for no more of it (see the module's comment).
        #[allow(unsafe_code)]
        let sent =
            unsafe { rustix::pipe::vmsplice(&*out, &slice, rustix::pipe::SpliceFlags::empty()) };
        match sent {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => continue,
            // Not a pipe: write it.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::BADF) if first => {
                return out.write_all(data);
            }
            Err(e) => return Err(e.into()),
        }
        first = false;
    }
    lent.keep(out, frame);
    Ok(())
}

/// Writes a frame held in pipes to `out` by moving its pages there (see
/// [`PipedFrame::give_away`]); hands the payload back, untouched, when
/// `out` does not take `splice(2)`.
#[cfg(target_os = "linux")]
pub fn give_away<W: Write + std::os::fd::AsFd>(
    out: &mut W,
    line: &str,
    payload: super::piped::PipedFrame,
    giver: &mut Giver,
) -> io::Result<Option<super::piped::PipedFrame>> {
    if !giver.splices_to(out) {
        return Ok(Some(payload));
    }
    if !line.is_empty() {
        out.write_all(format!("{line}\n").as_bytes())?;
    }
    payload.give_away(out).map(|()| None)
}

#[cfg(not(target_os = "linux"))]
pub fn give<W: Write>(out: &mut W, frame: &Shared, _giver: &mut Giver) -> io::Result<()> {
    frame.write_to(out)
}
