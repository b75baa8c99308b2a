//! A supervised host's output frames, handed to `scopectl run`'s supervisor
//! through shared memory instead of a pipe.
//!
//! The supervisor writes only whole frames to the stream's output, so that
//! a host that dies mid-frame leaves no half frame behind. Through a pipe,
//! each frame crossed twice (host → supervisor → output) and the supervisor
//! held it in pipes of its own meanwhile; here the host converts each frame
//! straight into a slot, the supervisor writes it out from there, and the
//! pipe carries one byte a frame.
//!
//! `SCOPE_OUTPUT_SLOTS=<fd>` names a memory file that the host sizes to one
//! page and [`OUT_SLOTS`] slots ([`output_file_len`]; each slot is a frame's
//! payload rounded up to a page, [`stride`]) before it writes anything to
//! stdout. It then writes its stream header (y4m; nothing for rgb24) to
//! stdout and, for its `n`th frame, fills slot `n mod OUT_SLOTS` and writes
//! [`FRAME_OUT`]. The first 4 bytes of the file count the frames the
//! supervisor is done with: before filling a slot again, the host waits
//! until the frame it held is counted.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The variable naming the output slots' descriptor.
pub const OUTPUT_SLOTS: &str = "SCOPE_OUTPUT_SLOTS";
/// Output frames a host may fill ahead of the supervisor.
pub const OUT_SLOTS: usize = 3;
/// Written by the host for each output frame it filled.
pub const FRAME_OUT: u8 = b'F';
/// The page size the slots are aligned to (also the output file's head).
pub const PAGE: usize = 4096;

/// The bytes from one slot to the next for frames of `len` bytes.
pub fn stride(len: usize) -> usize {
    len.max(1).div_ceil(PAGE) * PAGE
}

/// The size of an output file with slots of frames of `len` bytes.
pub fn output_file_len(len: usize) -> usize {
    PAGE + OUT_SLOTS * stride(len)
}

/// A shared mapping of part of a memory file.
pub struct Mapping {
    at: *mut u8,
    len: usize,
}

// SAFETY: a mapping is plain memory, written only through `&mut self`;
// who writes it when across processes is the protocol's business (see the
// module), not the threads'.
#[allow(unsafe_code)]
unsafe impl Send for Mapping {}
#[allow(unsafe_code)]
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` at `offset` (a multiple of [`PAGE`]),
    /// shared; read-only unless `writable`. The file must be that long.
    pub fn new(fd: RawFd, offset: usize, len: usize, writable: bool) -> io::Result<Mapping> {
        let protection = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let offset = libc::off_t::try_from(offset).map_err(io::Error::other)?;
        // SAFETY: a new mapping of a descriptor we were given, at an
        // address the kernel picks; failure is checked.
        #[allow(unsafe_code)]
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                protection,
                libc::MAP_SHARED,
                fd,
                offset,
            )
        };
        if at == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { at: at.cast(), len })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: mapped for `len` bytes until dropped.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.at, self.len)
        }
    }

    /// The mapped bytes, to write (a writable mapping only).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only view.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts_mut(self.at, self.len)
        }
    }

    /// The 32-bit counter at the start of the mapping.
    pub fn counter(&self) -> &AtomicU32 {
        assert!(self.len >= 4);
        // SAFETY: page-aligned, mapped, and only ever used atomically.
        #[allow(unsafe_code)]
        unsafe {
            &*self.at.cast::<AtomicU32>()
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        #[allow(unsafe_code)]
        unsafe {
            libc::munmap(self.at.cast(), self.len);
        }
    }
}

/// The descriptor a variable names, when it is set and open (not owned).
#[allow(clippy::disallowed_methods)] // the host reads its own environment
pub(super) fn named_fd(variable: &str) -> Option<RawFd> {
    let fd: RawFd = std::env::var_os(variable)?.to_str()?.parse().ok()?;
    // SAFETY: F_GETFD only asks whether the descriptor is open.
    #[allow(unsafe_code)]
    let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
    open.then_some(fd)
}

/// The descriptor a variable names, when it is set and open, owned from
/// here on.
pub(super) fn inherited(variable: &str) -> Option<OwnedFd> {
    let fd = named_fd(variable)?;
    // SAFETY: the supervisor gave this descriptor to this process alone, and
    // nothing else in it takes ownership of it.
    #[allow(unsafe_code)]
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A descriptor of our own for stdout (closed on exec).
fn own_stdout() -> io::Result<File> {
    // SAFETY: duplicates our own stdout; failure is checked.
    #[allow(unsafe_code)]
    let copy = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor just made, owned here alone.
    #[allow(unsafe_code)]
    Ok(unsafe { File::from_raw_fd(copy) })
}

/// Whether the reader of `pipe` is gone (a pipe's writing end then polls
/// as an error).
fn reader_gone(pipe: &File) -> bool {
    let mut poll = libc::pollfd {
        fd: pipe.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: polls one descriptor we own, without waiting.
    #[allow(unsafe_code)]
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready > 0 && poll.revents & libc::POLLERR != 0
}

/// Wakes whoever waits on `counter` in another process.
pub fn wake(counter: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a word of a shared mapping.
    #[allow(unsafe_code)]
    unsafe {
        libc::syscall(libc::SYS_futex, counter.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// Waits until `counter` is not `seen` any more, or a moment passed.
fn wait(counter: &AtomicU32, seen: u32) {
    let moment = libc::timespec {
        tv_sec: 0,
        tv_nsec: Duration::from_millis(50).as_nanos() as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT on a word of a shared mapping, with a timeout.
    #[allow(unsafe_code)]
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            counter.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            &moment as *const libc::timespec,
        );
    }
}

/// The output slots a supervisor gave: where each output frame is written.
pub struct SlotOutput {
    file: OwnedFd,
    /// Our stdout, to say a frame was filled.
    doorbell: File,
    mapping: Option<Mapping>,
    stride: usize,
    /// Frames filled so far (wrapping, as the counter does).
    filled: u32,
}

impl SlotOutput {
    /// The output slots, if the supervisor gave some.
    pub fn from_env() -> Option<io::Result<SlotOutput>> {
        let file = inherited(OUTPUT_SLOTS)?;
        Some(own_stdout().map(|doorbell| SlotOutput::new(file, doorbell)))
    }

    /// Slots in `file`, each filled frame said on `doorbell`.
    pub fn new(file: OwnedFd, doorbell: File) -> SlotOutput {
        SlotOutput {
            file,
            doorbell,
            mapping: None,
            stride: 0,
            filled: 0,
        }
    }

    /// Sizes and maps the slots for frames of `len` bytes, once: before
    /// anything is written to stdout, which is how the supervisor tells a
    /// host that uses slots from one that writes its frames to stdout.
    pub fn prepare(&mut self, len: usize) -> io::Result<()> {
        if self.mapping.is_some() {
            return Ok(());
        }
        let size = output_file_len(len);
        let file_len = libc::off_t::try_from(size).map_err(io::Error::other)?;
        // SAFETY: sizes the memory file we were given.
        #[allow(unsafe_code)]
        if unsafe { libc::ftruncate(self.file.as_raw_fd(), file_len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        self.mapping = Some(Mapping::new(self.file.as_raw_fd(), 0, size, true)?);
        self.stride = stride(len);
        Ok(())
    }

    /// Fills the next slot with a frame of `len` bytes by `fill`, then says
    /// so on stdout (after anything written there before: flush it first).
    /// Waits while every slot holds a frame the supervisor has not written
    /// out yet.
    pub fn put(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> io::Result<()> {
        self.prepare(len)?;
        let mapping = self.mapping.as_mut().expect("mapped above");
        loop {
            let written = mapping.counter().load(Ordering::Acquire);
            if self.filled.wrapping_sub(written) < OUT_SLOTS as u32 {
                break;
            }
            if reader_gone(&self.doorbell) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            wait(mapping.counter(), written);
        }
        let at = PAGE + (self.filled as usize % OUT_SLOTS) * self.stride;
        fill(&mut mapping.bytes_mut()[at..at + len]);
        self.filled = self.filled.wrapping_add(1);
        self.doorbell.write_all(&[FRAME_OUT])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_page_aligned_and_hold_a_whole_frame() {
        assert_eq!(stride(1), PAGE);
        assert_eq!(stride(PAGE), PAGE);
        assert_eq!(stride(PAGE + 1), 2 * PAGE);
        assert_eq!(output_file_len(3_110_400), PAGE + 3 * 3_112_960);
    }
}
