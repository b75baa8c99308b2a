//! The supervisor's end of a host's output slots
//! (`scope_host::video::slots`): a memory file per host, which the host
//! fills with whole frames and the supervisor writes them out from.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::sync::atomic::Ordering;

use rustix::fs::{MemfdFlags, SealFlags};
use scope_host::video::slots::{
    output_file_len, stride, wake, Mapping, OUTPUT_SLOTS, OUT_SLOTS, PAGE,
};

/// One host's output slots.
pub struct OutputSlots {
    file: OwnedFd,
    mapping: Option<Mapping>,
    stride: usize,
    /// Frames taken so far, and given back (wrapping, as the host's
    /// counter does).
    taken: u32,
    written: u32,
}

impl OutputSlots {
    pub fn new() -> io::Result<OutputSlots> {
        Ok(OutputSlots {
            file: rustix::fs::memfd_create(
                "scope-output-frames",
                MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
            )?,
            mapping: None,
            stride: 0,
            taken: 0,
            written: 0,
        })
    }

    /// Whether the host behind `stdout` uses these slots: it sizes them
    /// before it writes anything (a host built before slots writes its
    /// frames to stdout). Waits for the host's first output or its end.
    pub fn used_by(&self, stdout: &impl AsFd) -> bool {
        use rustix::event::{poll, PollFd, PollFlags};
        let mut ready = [PollFd::new(stdout, PollFlags::IN)];
        while let Err(rustix::io::Errno::INTR) = poll(&mut ready, None) {}
        rustix::fs::fstat(&self.file).is_ok_and(|stat| stat.st_size > 0)
    }

    /// The next frame the host filled, of `len` bytes; its slot is the
    /// supervisor's until [`OutputSlots::done`] gives it back. The first
    /// time, the file's size is sealed (the host sized it) and checked.
    pub fn next(&mut self, len: usize) -> io::Result<&[u8]> {
        if self.mapping.is_none() {
            rustix::fs::fcntl_add_seals(&self.file, SealFlags::SHRINK | SealFlags::GROW)?;
            let size = rustix::fs::fstat(&self.file)?.st_size;
            let needed = output_file_len(len);
            if usize::try_from(size).unwrap_or(0) < needed {
                return Err(io::Error::other(format!(
                    "the host's output slots hold {size} bytes, not the {needed} its frames need"
                )));
            }
            // Writable for the count at its head; the slots are only read.
            self.mapping = Some(Mapping::new(self.file.as_raw_fd(), 0, needed, true)?);
            self.stride = stride(len);
        }
        let at = PAGE + (self.taken as usize % OUT_SLOTS) * self.stride;
        self.taken = self.taken.wrapping_add(1);
        let mapping = self.mapping.as_ref().expect("mapped above");
        Ok(&mapping.bytes()[at..at + len])
    }

    /// The oldest frame [`OutputSlots::next`] gave that was not given back
    /// is written out: the host may fill its slot again.
    pub fn done(&mut self) {
        self.written = self.written.wrapping_add(1);
        if let Some(mapping) = &self.mapping {
            let counter = mapping.counter();
            counter.store(self.written, Ordering::Release);
            wake(counter);
        }
    }
}

/// A y4m frame's line, in memory that never changes (so it can be lent).
static FRAME_LINE: &[u8] = b"FRAME\n";

/// Output frames lent to a pipe straight from their slots (`vmsplice(2)`):
/// the supervisor copies nothing, the pipe's reader copies from the slot,
/// and a slot goes back to the host once the reader has taken all of it.
#[derive(Default)]
pub struct Lending {
    /// The bytes of each frame lent and maybe not read yet, oldest first.
    frames: VecDeque<usize>,
    /// Whether the output takes `vmsplice(2)` (it is a pipe), once known.
    pipe: Option<bool>,
}

impl Lending {
    /// Writes a frame (with its `FRAME` line when `y4m`) to `out`, lent
    /// when `out` is a pipe; returns how many frames' slots, oldest first,
    /// the host may fill again.
    pub fn write(&mut self, out: &mut File, y4m: bool, payload: &[u8]) -> io::Result<usize> {
        if self.pipe != Some(false) {
            match self.lend(out, y4m, payload) {
                Ok(()) => {
                    self.pipe = Some(true);
                    return self.settle(out);
                }
                // Not a pipe.
                Err(e)
                    if self.pipe.is_none()
                        && matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EBADF)) =>
                {
                    self.pipe = Some(false);
                }
                Err(e) => return Err(e),
            }
        }
        let line = if y4m { "FRAME" } else { "" };
        super::session::write_frame(out, line, payload)?;
        Ok(1)
    }

    fn lend(&mut self, out: &File, y4m: bool, payload: &[u8]) -> io::Result<()> {
        use rustix::pipe::{vmsplice, IoSliceRaw, SpliceFlags};
        let head: &[u8] = if y4m { FRAME_LINE } else { &[] };
        let total = head.len() + payload.len();
        let mut sent = 0;
        while sent < total {
            let rest = [
                IoSliceRaw::from_slice(&head[sent.min(head.len())..]),
                IoSliceRaw::from_slice(&payload[sent.saturating_sub(head.len())..]),
            ];
            // SAFETY: `out` is a pipe's writing end (or refuses with
            // EINVAL or EBADF), so the kernel only reads this memory: the static
            // line, and a slot the host does not fill again until the
            // pipe's reader has taken it (see `settle`).
            #[allow(unsafe_code)]
            match unsafe { vmsplice(out, &rest, SpliceFlags::empty()) } {
                Ok(n) => sent += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.frames.push_back(total);
        Ok(())
    }

    /// How many of the frames lent the reader has taken whole (a pipe is
    /// first in, first out: a frame is taken once what is still unread is
    /// no more than what was lent after it). When every slot is lent the
    /// host waits for one, so this waits for the reader.
    fn settle(&mut self, out: &File) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            let unread = rustix::io::ioctl_fionread(out)? as usize;
            let mut after: usize = self.frames.iter().sum();
            while let Some(&oldest) = self.frames.front() {
                after -= oldest;
                if after < unread {
                    break;
                }
                self.frames.pop_front();
                taken += 1;
            }
            if self.frames.len() < OUT_SLOTS {
                return Ok(taken);
            }
            if reader_gone(out) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The frames still lent, given up (the output failed): how many slots
    /// go back to the host.
    pub fn forget(&mut self) -> usize {
        std::mem::take(&mut self.frames).len()
    }
}

/// Whether the reader of `pipe` is gone (its writing end polls as an error).
fn reader_gone(pipe: &File) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut ready = [PollFd::new(pipe, PollFlags::OUT)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut ready, Some(&now)).is_ok_and(|n| n > 0) && ready[0].revents().contains(PollFlags::ERR)
}

/// Gives the host `command` starts `output`'s slots: the descriptor stays
/// open across its exec, named by `SCOPE_OUTPUT_SLOTS`.
pub fn lend(command: &mut Command, output: &OutputSlots) {
    let fd: RawFd = output.file.as_raw_fd();
    command.env(OUTPUT_SLOTS, fd.to_string());
    // SAFETY: between fork and exec, only fcntl(2) (async-signal-safe) on a
    // descriptor this process keeps open until the host has started.
    #[allow(unsafe_code)]
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use scope_host::video::slots::{SlotOutput, FRAME_OUT};
    use std::fs::File;
    use std::io::Read;

    /// Whether `pipe` has something to read within 100 ms.
    fn rings(pipe: &File) -> bool {
        let mut ready = [PollFd::new(pipe, PollFlags::IN)];
        let moment = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        poll(&mut ready, Some(&moment)).unwrap() > 0
    }

    #[test]
    fn a_hosts_frames_come_out_whole_in_order_and_it_waits_for_a_slot_written_out() {
        let mut slots = OutputSlots::new().unwrap();
        let (doorbell_out, doorbell_in) = rustix::pipe::pipe().unwrap();
        let mut doorbell = File::from(doorbell_out);
        let mut host = SlotOutput::new(slots.file.try_clone().unwrap(), File::from(doorbell_in));
        // Larger than a page, not a multiple of one.
        let len = 5000;
        let frames = OUT_SLOTS + 2;
        let filler = std::thread::spawn(move || {
            for i in 0..frames {
                host.put(len, |bytes| bytes.fill(i as u8 + 1)).unwrap();
            }
        });
        assert!(slots.used_by(&doorbell));
        let mut rung = [0u8; OUT_SLOTS];
        doorbell.read_exact(&mut rung).unwrap();
        assert_eq!(rung, [FRAME_OUT; OUT_SLOTS]);
        // Every slot holds a frame not yet written out: the host waits.
        assert!(
            !rings(&doorbell),
            "a frame was filled over one not written out"
        );
        for i in 0..frames {
            if i >= OUT_SLOTS {
                assert!(rings(&doorbell), "frame {i} never came");
                let mut one = [0u8];
                doorbell.read_exact(&mut one).unwrap();
                assert_eq!(one[0], FRAME_OUT);
            }
            let frame = slots.next(len).unwrap();
            assert_eq!(frame.len(), len);
            assert!(frame.iter().all(|&b| b == i as u8 + 1), "frame {i}");
            slots.done();
        }
        filler.join().unwrap();
    }

    #[test]
    fn a_frame_lent_to_a_pipe_goes_back_once_its_reader_took_all_of_it() {
        let (from, into) = rustix::pipe::pipe().unwrap();
        let (mut from, mut into) = (File::from(from), File::from(into));
        let mut lending = Lending::default();
        // The frames' memory (the slots) outlives their lending.
        let count = OUT_SLOTS.max(3) + 1;
        let frames: Vec<Vec<u8>> = (1..=count as u8).map(|b| vec![b; 10_000]).collect();
        let whole = |i: usize| [FRAME_LINE, &frames[i]].concat();
        assert_eq!(lending.write(&mut into, true, &frames[0]).unwrap(), 0);
        let mut part = vec![0u8; 5_000];
        from.read_exact(&mut part).unwrap();
        let half_read = lending.write(&mut into, true, &frames[1]).unwrap();
        assert_eq!(half_read, 0, "a frame half read went back");
        let mut rest = vec![0u8; 10_006 - 5_000];
        from.read_exact(&mut rest).unwrap();
        assert!([part, rest].concat() == whole(0));
        assert_eq!(lending.write(&mut into, true, &frames[2]).unwrap(), 1);
        for frame in &frames[3..count - 1] {
            assert_eq!(lending.write(&mut into, true, frame).unwrap(), 0);
        }
        // Every slot lent: the host waits, so this waits for the reader.
        let unread = (count - 1) * 10_006;
        let reader = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let mut read = vec![0u8; unread];
            from.read_exact(&mut read).unwrap();
            read
        });
        let started = std::time::Instant::now();
        assert!(lending.write(&mut into, true, &frames[count - 1]).unwrap() >= 1);
        assert!(started.elapsed() >= std::time::Duration::from_millis(150));
        let read = reader.join().unwrap();
        assert!(read == (1..count).map(whole).collect::<Vec<_>>().concat());
    }

    #[test]
    fn a_frame_is_written_to_what_is_not_a_pipe_and_its_slot_goes_back_at_once() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut lending = Lending::default();
        assert_eq!(lending.write(file.as_file_mut(), false, b"rgb").unwrap(), 1);
        assert_eq!(lending.write(file.as_file_mut(), true, b"yuv").unwrap(), 1);
        assert_eq!(fs_err::read(file.path()).unwrap(), b"rgbFRAME\nyuv");
    }

    #[test]
    fn a_host_that_writes_before_sizing_its_slots_does_not_use_them() {
        let slots = OutputSlots::new().unwrap();
        let (out, into) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&into, b"YUV4MPEG2 W2 H2\n").unwrap();
        assert!(!slots.used_by(&out));
    }

    #[test]
    fn slots_smaller_than_their_frames_are_refused() {
        let mut slots = OutputSlots::new().unwrap();
        rustix::fs::ftruncate(&slots.file, PAGE as u64).unwrap();
        let error = slots.next(5000).unwrap_err().to_string();
        assert!(error.contains("hold 4096 bytes"), "{error}");
    }
}
