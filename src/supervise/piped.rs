//! Frames held as pages in pipes, never copied by the supervisor (Linux).
//!
//! A frame's payload is moved from where it arrives (the stream's input
//! when that is a pipe — a file is read by offset, see [`super::in_file`];
//! a host's stdout) into pipes of the supervisor's own with
//! `splice(2)`, one pipe per [`CHUNK`] bytes. Giving the frame to a host or
//! to the output duplicates those pages with `tee(2)` into a staging pipe
//! and moves them on with `splice(2)`: the frame itself stays whole in its
//! pipes, so a host that dies can be given it again, and the kernel only
//! ever hands page references around. An output frame that nothing will
//! need again is given away instead: its pages move on, none duplicated.
//! The bytes are read out only for a snapshot.
//!
//! A frame is held this way only when every pipe it needs can be made
//! [`CHUNK`] bytes large (an unprivileged user's pipes share a limit,
//! `/proc/sys/fs/pipe-user-pages-soft`); otherwise it is read into memory
//! as before (see [`Take::NoPipes`]).

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};

use rustix::pipe::{fcntl_setpipe_size, pipe_with, splice, tee, PipeFlags, SpliceFlags};

/// The bytes one holding pipe takes: Linux's default maximum pipe size for
/// an unprivileged process (`/proc/sys/fs/pipe-max-size`).
pub const CHUNK: usize = 1 << 20;

/// A frame's payload, held in pipes.
pub struct PipedFrame {
    chunks: Vec<Chunk>,
}

struct Chunk {
    read: OwnedFd,
    write: OwnedFd,
    len: usize,
}

/// What [`PipedFrame::take`] did.
pub enum Take {
    /// The whole payload is held.
    Whole(PipedFrame),
    /// No pipe of [`CHUNK`] bytes could be made: nothing was taken.
    NoPipes,
    /// The input ended after this many bytes (the prefix included).
    Short(usize),
}

/// Empty pipes of [`CHUNK`] bytes, kept for the next frames: making one
/// (and sizing it) and freeing it for every megabyte of every frame was
/// most of what the supervisor cost the kernel. Bounded: a user's pipes
/// share a limit (`pipe-user-pages-soft`).
static SPARE: std::sync::Mutex<Vec<(OwnedFd, OwnedFd)>> = std::sync::Mutex::new(Vec::new());
const SPARE_PIPES: usize = 8;

impl Chunk {
    /// An empty chunk, if a pipe of [`CHUNK`] bytes can be had.
    fn new() -> io::Result<Option<Chunk>> {
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let pipe = match spare {
            Some(pipe) => Some(pipe),
            None => chunk_pipe()?,
        };
        Ok(pipe.map(|(read, write)| Chunk {
            read,
            write,
            len: 0,
        }))
    }
}

impl Drop for PipedFrame {
    /// The frame's pipes, emptied, go back to [`SPARE`] (as many as it keeps).
    fn drop(&mut self) {
        static NULL: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
        let null = NULL.get_or_init(|| {
            fs_err::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .ok()
                .map(|f| f.into_parts().0)
        });
        let Some(null) = null else { return };
        for chunk in self.chunks.drain(..) {
            let mut left = chunk.len;
            while left > 0 {
                match again(|| splice(&chunk.read, None, null, None, left, SpliceFlags::MOVE)) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left -= n,
                }
            }
            let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
            if left == 0 && spare.len() < SPARE_PIPES {
                spare.push((chunk.read, chunk.write));
            }
        }
    }
}

impl Chunk {
    /// Whether the pipe can take another buffer (`poll(2)` says a pipe is
    /// writable exactly when one of its slots is free).
    fn has_free_slot(&self) -> io::Result<bool> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let mut fds = [PollFd::new(&self.write, PollFlags::OUT)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let ready = again(|| poll(&mut fds, Some(&now)))?;
        Ok(ready == 1 && fds[0].revents().contains(PollFlags::OUT))
    }
}

/// A pipe of [`CHUNK`] bytes, if one can be made.
fn chunk_pipe() -> io::Result<Option<(OwnedFd, OwnedFd)>> {
    let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
    Ok(match fcntl_setpipe_size(&write, CHUNK) {
        Ok(size) if size >= CHUNK => Some((read, write)),
        _ => None,
    })
}

/// Retries a call interrupted by a signal.
fn again(mut call: impl FnMut() -> rustix::io::Result<usize>) -> io::Result<usize> {
    loop {
        match call() {
            Err(rustix::io::Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

impl PipedFrame {
    /// Takes a payload of `len` bytes: `prefix` (bytes of it already read),
    /// then the rest from `input` (a pipe or a regular file).
    ///
    /// A pipe holds a number of buffers, not of bytes: pages that arrive
    /// part-filled (a writer's small writes, a frame starting mid-page)
    /// fill its slots before its bytes. So a chunk is filled while it has
    /// a free slot, and the next one begun when it has none.
    pub fn take(input: &impl AsFd, prefix: &[u8], len: usize) -> io::Result<Take> {
        let Some(first) = Chunk::new()? else {
            return Ok(Take::NoPipes);
        };
        let mut chunks = vec![first];
        let prefix = &prefix[..prefix.len().min(len)];
        let mut written = 0;
        while written < prefix.len() {
            let chunk = &mut chunks[0];
            let n = again(|| rustix::io::write(&chunk.write, &prefix[written..]))?;
            written += n;
            chunk.len += n;
        }
        let mut taken = prefix.len();
        while taken < len {
            let chunk = chunks.last_mut().expect("one at least");
            if !chunk.has_free_slot()? {
                let next = Chunk::new()?.ok_or_else(|| {
                    io::Error::other("cannot make another pipe of 1 MiB to hold a frame in")
                })?;
                chunks.push(next);
                continue;
            }
            // With a free slot, this waits only for input.
            let moved = again(|| {
                splice(
                    input,
                    None,
                    &chunk.write,
                    None,
                    len - taken,
                    SpliceFlags::MOVE,
                )
            })?;
            if moved == 0 {
                return Ok(Take::Short(taken));
            }
            chunk.len += moved;
            taken += moved;
        }
        Ok(Take::Whole(PipedFrame { chunks }))
    }

    /// The payload's length.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len).sum()
    }

    /// Gives a copy of the payload to `out` (a pipe or a regular file)
    /// through `staging`, keeping the frame whole.
    pub fn give(&self, out: &impl AsFd, staging: &mut Staging) -> io::Result<()> {
        let (staging_read, staging_write) = staging.pipe()?;
        for chunk in &self.chunks {
            // The staging pipe is empty and as large as the chunk: every
            // page of the chunk fits, so `tee` links them all at once (it
            // cannot resume part-way through a pipe).
            let linked =
                again(|| tee(&chunk.read, staging_write, chunk.len, SpliceFlags::empty()))?;
            if linked != chunk.len {
                return Err(io::Error::other(format!(
                    "tee(2) linked {linked} of {} bytes of a frame",
                    chunk.len
                )));
            }
            let mut moved = 0;
            while moved < chunk.len {
                let n = again(|| {
                    splice(
                        staging_read,
                        None,
                        out,
                        None,
                        chunk.len - moved,
                        SpliceFlags::MOVE,
                    )
                })?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                moved += n;
            }
        }
        Ok(())
    }

    /// Moves the payload on to `out` (a pipe or a regular file): its pages
    /// change hands, none is duplicated, and the frame is gone. (Half a
    /// frame may have gone when this fails: for the output, whose reader
    /// went away, not for a host that may need the frame again.)
    pub fn give_away(mut self, out: &impl AsFd) -> io::Result<()> {
        for chunk in &mut self.chunks {
            while chunk.len > 0 {
                let n =
                    again(|| splice(&chunk.read, None, out, None, chunk.len, SpliceFlags::MOVE))?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                chunk.len -= n;
            }
        }
        Ok(())
    }

    /// The payload's bytes, read from a `tee`d copy (for a snapshot).
    pub fn bytes(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(self.len());
        let mut staging = Staging::default();
        let (staging_read, staging_write) = staging.pipe()?;
        for chunk in &self.chunks {
            again(|| tee(&chunk.read, staging_write, chunk.len, SpliceFlags::empty()))?;
            let mut reader = std::fs::File::from(staging_read.try_clone()?);
            let start = bytes.len();
            bytes.resize(start + chunk.len, 0);
            reader.read_exact(&mut bytes[start..])?;
        }
        Ok(bytes)
    }
}

/// The pipe a writer stages frames through, made at its first frame.
#[derive(Default)]
pub struct Staging {
    pipe: Option<(OwnedFd, OwnedFd)>,
}

impl Staging {
    fn pipe(&mut self) -> io::Result<(&OwnedFd, &OwnedFd)> {
        if self.pipe.is_none() {
            self.pipe = Some(chunk_pipe()?.ok_or_else(|| {
                io::Error::other("cannot make a pipe of 1 MiB to stage frames through")
            })?);
        }
        let (read, write) = self.pipe.as_ref().expect("made above");
        Ok((read, write))
    }
}

/// Whether frames from `fd` can be held in pipes: it is a pipe or a
/// regular file (what `splice(2)` reads from).
pub fn can_take_from(fd: &impl AsFd) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let Ok(fd) = fd.as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A pipe with `bytes` written into it by another thread.
    fn fed(bytes: Vec<u8>) -> OwnedFd {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        std::thread::spawn(move || {
            let mut write = std::fs::File::from(write);
            let _ = write.write_all(&bytes);
        });
        read
    }

    fn drained(read: OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        std::fs::File::from(read).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_frame_is_given_whole_as_often_as_asked_and_read_back() {
        let payload: Vec<u8> = (0..(2 * CHUNK + 12345)).map(|i| (i % 251) as u8).collect();
        let input = fed(payload[3..].to_vec());
        let Take::Whole(frame) = PipedFrame::take(&input, &payload[..3], payload.len()).unwrap()
        else {
            panic!("whole")
        };
        assert_eq!(frame.len(), payload.len());
        let mut staging = Staging::default();
        for _ in 0..2 {
            let (read, write) = pipe_with(PipeFlags::CLOEXEC).unwrap();
            let reader = std::thread::spawn(move || drained(read));
            frame.give(&write, &mut staging).unwrap();
            drop(write);
            assert!(
                reader.join().unwrap() == payload,
                "the same bytes each time"
            );
        }
        assert!(frame.bytes().unwrap() == payload);
    }

    #[test]
    fn small_writes_fill_slots_before_bytes_and_nothing_waits() {
        // 3,000 writes of 700 bytes, each read as it comes: many part-filled
        // buffers, more than one pipe's slots.
        let (read, write) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let payload: Vec<u8> = (0..3000 * 700).map(|i| (i % 253) as u8).collect();
        let sent = payload.clone();
        std::thread::spawn(move || {
            let mut write = std::fs::File::from(write);
            for piece in sent.chunks(700) {
                write.write_all(piece).unwrap();
                std::thread::yield_now();
            }
        });
        let Take::Whole(frame) = PipedFrame::take(&read, &[], payload.len()).unwrap() else {
            panic!("whole")
        };
        assert!(frame.bytes().unwrap() == payload);
    }

    #[test]
    fn a_pipe_back_from_a_dropped_frame_holds_nothing_of_it() {
        for round in 0..4u8 {
            let payload: Vec<u8> = (0..(CHUNK + 777)).map(|i| (i as u8) ^ round).collect();
            let input = fed(payload.clone());
            let Take::Whole(frame) = PipedFrame::take(&input, &[], payload.len()).unwrap() else {
                panic!("whole")
            };
            // The pipes of the round before were emptied before reuse.
            assert!(frame.bytes().unwrap() == payload, "round {round}");
            drop(frame);
        }
    }

    #[test]
    fn a_frame_given_away_arrives_whole_and_its_pipes_come_back_empty() {
        for round in 0..3u8 {
            let payload: Vec<u8> = (0..(2 * CHUNK + 4321)).map(|i| (i as u8) ^ round).collect();
            let input = fed(payload[5..].to_vec());
            let Take::Whole(frame) =
                PipedFrame::take(&input, &payload[..5], payload.len()).unwrap()
            else {
                panic!("whole")
            };
            let (read, write) = pipe_with(PipeFlags::CLOEXEC).unwrap();
            let reader = std::thread::spawn(move || drained(read));
            // Dropped once given: its pipes go back to the spares without
            // waiting for bytes that left with the frame.
            frame.give_away(&write).unwrap();
            drop(write);
            assert!(reader.join().unwrap() == payload, "round {round}");
        }
    }

    #[test]
    fn an_input_that_ends_early_says_how_much_came() {
        let input = fed(vec![7; 1000]);
        match PipedFrame::take(&input, &[], 5000).unwrap() {
            Take::Short(n) => assert_eq!(n, 1000),
            _ => panic!("short"),
        }
    }

    #[test]
    fn only_pipes_and_files_are_taken_from() {
        let (read, _write) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        assert!(can_take_from(&read));
        let dev_null = fs_err::File::open("/dev/null").unwrap();
        assert!(!can_take_from(&dev_null));
    }
}
