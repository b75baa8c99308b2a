//! Frames of an input that is a regular file, held as the place where they
//! lie in it (Linux).
//!
//! Such a frame needs no copy of its own: giving it to a host is one
//! `splice(2)` from the file at its offset (its `FRAME` line and payload
//! together, so the host wakes once for both), giving it again after a
//! host died is the same call, and letting it go frees nothing. Held in
//! pipes instead (see [`super::piped`]), every page went through four
//! page operations: in, duplicated, given, freed.
//!
//! The file must not change under a running stream, as for any reader of
//! it: the frames are read from the page cache when they are given.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{fstat, seek, SeekFrom};
use rustix::pipe::{splice, SpliceFlags};

/// A frame's place in the input file.
pub struct FileFrame {
    file: Arc<OwnedFd>,
    /// Where the frame starts: its `FRAME` line, or the payload (rgb24).
    start: u64,
    /// Bytes from `start` to the payload.
    line_len: usize,
    /// The payload's bytes.
    len: usize,
}

/// An input file, read frame by frame by offset.
pub struct InputFile {
    file: Arc<OwnedFd>,
    /// The file's size when last asked (a file that grows is asked again).
    size: u64,
}

/// What [`InputFile::take`] found.
pub enum Found {
    Whole(FileFrame),
    /// The file ends after this many bytes of the payload.
    Short(usize),
}

impl InputFile {
    /// `file`, when it is a regular file whose position can be read.
    pub fn new(file: &impl AsFd) -> Option<InputFile> {
        let stat = fstat(file).ok()?;
        let regular = rustix::fs::FileType::from_raw_mode(stat.st_mode).is_file();
        if !regular || seek(file, SeekFrom::Current(0)).is_err() {
            return None;
        }
        Some(InputFile {
            file: Arc::new(file.as_fd().try_clone_to_owned().ok()?),
            size: stat.st_size as u64,
        })
    }

    /// The file, for a host that reads it by offset.
    pub fn descriptor(&self) -> Arc<OwnedFd> {
        self.file.clone()
    }

    /// Where the next unread byte is: the file's position less what
    /// `buffered` bytes were read ahead of it.
    pub fn position(&self, buffered: usize) -> io::Result<u64> {
        Ok(seek(&self.file, SeekFrom::Current(0))? - buffered as u64)
    }

    /// The frame that starts at `start` (its line) and whose `len` bytes
    /// of payload start at `payload`; the file's position is moved past it.
    pub fn take(&mut self, start: u64, payload: u64, len: usize) -> io::Result<Found> {
        let end = payload + len as u64;
        if end > self.size {
            self.size = fstat(&self.file)?.st_size as u64;
        }
        if end > self.size {
            seek(&self.file, SeekFrom::Start(self.size))?;
            return Ok(Found::Short(self.size.saturating_sub(payload) as usize));
        }
        seek(&self.file, SeekFrom::Start(end))?;
        Ok(Found::Whole(FileFrame {
            file: self.file.clone(),
            start,
            line_len: (payload - start) as usize,
            len,
        }))
    }
}

impl FileFrame {
    /// Splices the whole frame (line and payload) to `out`; false, with
    /// nothing sent, when `out` is not a pipe (`splice(2)` needs one).
    pub fn give(&self, out: &impl AsFd) -> io::Result<bool> {
        let mut at = self.start;
        let end = self.start + (self.line_len + self.len) as u64;
        while at < end {
            let left = (end - at) as usize;
            let n = match splice(
                &*self.file,
                Some(&mut at),
                out,
                None,
                left,
                SpliceFlags::MOVE,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::INVAL) if at == self.start => return Ok(false),
                other => other?,
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the input file was cut short while it was streamed",
                ));
            }
        }
        Ok(true)
    }

    /// Where the frame (line and payload) lies in the file, and its length.
    pub fn range(&self) -> (u64, u64) {
        (self.start, (self.line_len + self.len) as u64)
    }

    /// The payload's bytes, read from the file.
    pub fn bytes(&self) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; self.len];
        let mut done = 0;
        let at = self.start + self.line_len as u64;
        while done < self.len {
            match rustix::io::pread(&*self.file, &mut bytes[done..], at + done as u64) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => done += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn file_with(bytes: &[u8]) -> std::fs::File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        seek(&file, SeekFrom::Start(0)).unwrap();
        file
    }

    #[test]
    fn a_frame_is_given_with_its_line_as_often_as_asked_and_the_position_moves_past_it() {
        let mut bytes = b"FRAME\n".to_vec();
        bytes.extend((0..300_000).map(|i| (i % 251) as u8));
        bytes.extend_from_slice(b"FRAME\nrest");
        let file = file_with(&bytes);
        let mut input = InputFile::new(&file).unwrap();
        let Found::Whole(frame) = input.take(0, 6, 300_000).unwrap() else {
            panic!("whole")
        };
        assert_eq!(input.position(0).unwrap(), 300_006);
        for _ in 0..2 {
            let (read, write) = rustix::pipe::pipe().unwrap();
            let reader = std::thread::spawn(move || {
                let mut out = Vec::new();
                std::fs::File::from(read).read_to_end(&mut out).unwrap();
                out
            });
            assert!(frame.give(&write).unwrap());
            drop(write);
            assert!(
                reader.join().unwrap() == bytes[..300_006],
                "line and payload"
            );
        }
        assert!(frame.bytes().unwrap() == bytes[6..300_006]);
    }

    #[test]
    fn a_frame_is_not_spliced_to_a_file() {
        let file = file_with(b"FRAME\nabc");
        let Found::Whole(frame) = InputFile::new(&file).unwrap().take(0, 6, 3).unwrap() else {
            panic!("whole")
        };
        assert!(!frame.give(&tempfile::tempfile().unwrap()).unwrap());
    }

    #[test]
    fn a_file_that_ends_early_says_how_much_of_the_payload_is_there() {
        let file = file_with(&[1; 1000]);
        let mut input = InputFile::new(&file).unwrap();
        match input.take(0, 10, 5000).unwrap() {
            Found::Short(n) => assert_eq!(n, 990),
            Found::Whole(_) => panic!("short"),
        }
    }

    #[test]
    fn only_regular_files_are_read_by_offset() {
        let (read, _write) = rustix::pipe::pipe().unwrap();
        assert!(InputFile::new(&read).is_none());
        assert!(InputFile::new(&file_with(b"x")).is_some());
    }
}
