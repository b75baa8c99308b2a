//! A supervised host reading its input file itself, by offset.
//!
//! When the stream's input is a y4m file, `scopectl run` gives a host
//! that file (`SCOPE_INPUT_FILE=<fd>`) beside its output slots
//! ([`super::slots`]). Before it reads stdin, the host says it can read by
//! offset: it writes [`MAGIC`] at [`MAGIC_AT`] of the output slots' file.
//! The supervisor writes the stream's header line to stdin as usual and,
//! once the host has read it and said so (an rgb24 stream has no header
//! to tell by, and is not read by offset),
//! records instead of frames, each [`RECORD_LEN`] bytes: `F`, then the
//! offset and length of a frame in the file (line and payload, two
//! little-endian `u64`s), which the host reads with `pread(2)` as a bare
//! host reads its input file; or `D` and a little-endian `u64` length,
//! followed by that many bytes (a frame the supervisor holds in memory).
//! The supervisor shrinks the host's stdin pipe to one record, so that it
//! gives a frame only once the host took the one before — as a pipe that
//! holds less than a frame did — and a host handed off has no more than
//! that left to finish. A host that did not say so (built before this)
//! gets frames on stdin, as before.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::RawFd;

/// The variable naming the input file's descriptor.
pub const INPUT_FILE: &str = "SCOPE_INPUT_FILE";
/// Where in the output slots' file (in its first page, after the counter)
/// a host says it reads by offset.
pub const MAGIC_AT: u64 = 8;
pub const MAGIC: [u8; 8] = *b"BYOFFSET";
/// A record of bytes of the input file.
pub const RECORD_FILE: u8 = b'F';
/// A record of bytes inline.
pub const RECORD_BYTES: u8 = b'D';
/// Every record's length (the rest of it is zeros): a page, which a pipe
/// of one page holds one of.
pub const RECORD_LEN: usize = 4096;

/// The host's stdin as the stream it stands for: `stdin` itself when no
/// input file was given (or it cannot say so), else its header passed
/// through and its records read from the file.
pub fn stdin_stream(stdin: Box<dyn Read + Send>, y4m: bool) -> Box<dyn Read + Send> {
    use super::slots::{inherited, named_fd, OUTPUT_SLOTS};
    let Some(slots) = named_fd(OUTPUT_SLOTS) else {
        return stdin;
    };
    if named_fd(INPUT_FILE).is_none() || say_by_offset(slots).is_err() {
        return stdin;
    }
    match inherited(INPUT_FILE) {
        Some(file) => Box::new(ByOffset::new(stdin, File::from(file), y4m)),
        None => stdin,
    }
}

/// Writes [`MAGIC`] into the output slots' file (sized to a page first, if
/// it is empty; the host sizes it for its frames later).
fn say_by_offset(slots: RawFd) -> io::Result<()> {
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: fstat, ftruncate and pwrite on the descriptor the supervisor
    // gave, not owned here (the output slots take it later).
    #[allow(unsafe_code)]
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        check(libc::fstat(slots, &mut stat))?;
        if stat.st_size == 0 {
            check(libc::ftruncate(slots, super::slots::PAGE as libc::off_t))?;
        }
        let written = libc::pwrite(
            slots,
            MAGIC.as_ptr().cast(),
            MAGIC.len(),
            MAGIC_AT as libc::off_t,
        );
        if written != MAGIC.len() as isize {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stream a host reading by offset sees.
pub struct ByOffset {
    records: Box<dyn Read + Send>,
    file: File,
    /// The y4m header line is still being passed through.
    in_header: bool,
    /// What is left of the current record: bytes of the file from `at`,
    /// or bytes inline on stdin.
    at: u64,
    file_left: u64,
    inline_left: u64,
}

impl ByOffset {
    pub fn new(records: Box<dyn Read + Send>, file: File, y4m: bool) -> ByOffset {
        ByOffset {
            records,
            file,
            in_header: y4m,
            at: 0,
            file_left: 0,
            inline_left: 0,
        }
    }

    /// Reads the next record's head; false at the end of the records.
    fn next_record(&mut self) -> io::Result<bool> {
        let mut record = [0u8; RECORD_LEN];
        if self.records.read(&mut record[..1])? == 0 {
            return Ok(false);
        }
        self.records.read_exact(&mut record[1..])?;
        let number =
            |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().expect("8 bytes"));
        match record[0] {
            RECORD_FILE => {
                self.at = number(1);
                self.file_left = number(9);
            }
            RECORD_BYTES => self.inline_left = number(1),
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("record {other:#04x} on stdin is not one this host reads"),
                ))
            }
        }
        Ok(true)
    }
}

impl Read for ByOffset {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.in_header {
            // A byte at a time: nothing past the header line is read here.
            let n = self.records.read(&mut buf[..1])?;
            self.in_header = n == 1 && buf[0] != b'\n';
            return Ok(n);
        }
        while self.file_left == 0 && self.inline_left == 0 {
            if !self.next_record()? {
                return Ok(0);
            }
        }
        if self.inline_left > 0 {
            let most = buf
                .len()
                .min(usize::try_from(self.inline_left).unwrap_or(usize::MAX));
            let n = self.records.read(&mut buf[..most])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.inline_left -= n as u64;
            return Ok(n);
        }
        let most = buf
            .len()
            .min(usize::try_from(self.file_left).unwrap_or(usize::MAX));
        let n = pread(&self.file, &mut buf[..most], self.at)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the input file ends before a frame the supervisor gave",
            ));
        }
        self.at += n as u64;
        self.file_left -= n as u64;
        Ok(n)
    }
}

fn pread(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

/// A record of `len` bytes of the input file at `at`.
pub fn file_record(at: u64, len: u64) -> [u8; RECORD_LEN] {
    let mut record = [0u8; RECORD_LEN];
    record[0] = RECORD_FILE;
    record[1..9].copy_from_slice(&at.to_le_bytes());
    record[9..17].copy_from_slice(&len.to_le_bytes());
    record
}

/// A record of `len` inline bytes (the bytes follow it).
pub fn bytes_record(len: u64) -> [u8; RECORD_LEN] {
    let mut record = [0u8; RECORD_LEN];
    record[0] = RECORD_BYTES;
    record[1..9].copy_from_slice(&len.to_le_bytes());
    record
}

/// Whether a host said it reads by offset in the output slots' file `slots`.
pub fn said_by_offset(slots: &File) -> bool {
    let mut magic = [0u8; 8];
    std::os::unix::fs::FileExt::read_exact_at(slots, &mut magic, MAGIC_AT).is_ok() && magic == MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};

    /// An empty file in memory.
    fn memory_file() -> File {
        // SAFETY: a new descriptor, owned by the file from here on.
        #[allow(unsafe_code)]
        unsafe {
            File::from_raw_fd(libc::memfd_create(c"test".as_ptr(), libc::MFD_CLOEXEC))
        }
    }

    #[test]
    fn the_header_passes_through_and_records_read_the_file_and_stdin() {
        let mut file = memory_file();
        file.write_all(b"YUV4MPEG2 W2 H2\nFRAME\nabcdefFRAME\nghijkl")
            .unwrap();
        let mut stdin = b"YUV4MPEG2 W2 H2\n".to_vec();
        stdin.extend(file_record(28, 12)); // the second frame first
        stdin.extend(bytes_record(8));
        stdin.extend(b"FRAME\nxy");
        stdin.extend(file_record(16, 12));
        let mut stream = ByOffset::new(Box::new(io::Cursor::new(stdin)), file, true);
        let mut out = Vec::new();
        stream.read_to_end(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "YUV4MPEG2 W2 H2\nFRAME\nghijklFRAME\nxyFRAME\nabcdef"
        );
    }

    #[test]
    fn a_record_past_the_end_of_the_file_or_of_stdin_is_an_error() {
        let file = || {
            let mut file = memory_file();
            file.write_all(b"FRAME\nab").unwrap();
            file
        };
        let read = |stdin: Vec<u8>| {
            let mut stream = ByOffset::new(Box::new(io::Cursor::new(stdin)), file(), false);
            stream.read_to_end(&mut Vec::new())
        };
        assert!(read(file_record(0, 20).to_vec()).is_err(), "past the file");
        assert!(
            read(file_record(0, 4)[..10].to_vec()).is_err(),
            "a record cut short"
        );
        assert!(read(vec![b'X']).is_err(), "an unknown record");
        let mut inline = bytes_record(5).to_vec();
        inline.extend(b"ab");
        assert!(read(inline).is_err(), "inline bytes cut short");
        assert_eq!(read(file_record(0, 8).to_vec()).unwrap(), 8);
    }

    #[test]
    fn a_host_says_it_reads_by_offset_in_the_slots_file() {
        let slots = memory_file();
        assert!(!said_by_offset(&slots));
        say_by_offset(slots.as_raw_fd()).unwrap();
        assert_eq!(
            slots.metadata().unwrap().len(),
            super::super::slots::PAGE as u64
        );
        assert!(said_by_offset(&slots));
    }
}
