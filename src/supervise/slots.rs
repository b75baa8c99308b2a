//! The supervisor's end of a host's output slots
//! (`scope_host::video::slots`): a memory file per host, which the host
//! fills with whole frames and the supervisor writes them out from.
//!
//! The frame written out last stays in its slot, not given back to the
//! host, as the stream's latest frame (`ctl snapshot`): a copy of it would
//! cost a frame's copy and fresh pages every time one is kept, on the
//! frame path. The host fills the other two slots meanwhile.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rustix::fs::{MemfdFlags, SealFlags};
use scope_host::video::slots::{
    output_file_len, stride, wake, Mapping, OUTPUT_SLOTS, OUT_SLOTS, PAGE,
};

/// One host's output slots.
pub struct OutputSlots {
    file: OwnedFd,
    mapping: Option<Arc<Mapping>>,
    stride: usize,
    /// Frames given back to the host so far (wrapping, as the host's
    /// counter does).
    given_back: u32,
    /// Frames taken so far: all but the last are given back.
    taken: u32,
}

/// A frame in one of a host's output slots. Its bytes stay the frame's
/// while its slot is not given back (the mapping outlives the host).
pub struct SlotFrame {
    mapping: Arc<Mapping>,
    at: usize,
    len: usize,
}

impl SlotFrame {
    pub fn bytes(&self) -> &[u8] {
        &self.mapping.bytes()[self.at..self.at + self.len]
    }
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
            given_back: 0,
            taken: 0,
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

    /// Maps the slots for frames of `len` bytes, once: the file's size is
    /// sealed (the host sized it) and must be exactly that of this
    /// scopectl's slots — a host built for slots of another count or size
    /// would fill them where they are not looked for.
    pub fn map(&mut self, len: usize) -> io::Result<()> {
        if self.mapping.is_some() {
            return Ok(());
        }
        rustix::fs::fcntl_add_seals(&self.file, SealFlags::SHRINK | SealFlags::GROW)?;
        let size = rustix::fs::fstat(&self.file)?.st_size;
        let needed = output_file_len(len);
        if usize::try_from(size).ok() != Some(needed) {
            return Err(io::Error::other(format!(
                "the host's output slots are {size} bytes, not the {needed} of {OUT_SLOTS} slots for its frames: it was built for another version of scopectl; rebuild it with `scopectl build --force`"
            )));
        }
        // Writable for the count at its head; the slots are only read.
        let mapping = Mapping::new(self.file.as_raw_fd(), 0, needed, true)?;
        self.mapping = Some(Arc::new(mapping));
        self.stride = stride(len);
        Ok(())
    }

    /// The next frame the host filled, of `len` bytes; its slot is the
    /// supervisor's until given back.
    pub fn next(&mut self, len: usize) -> io::Result<SlotFrame> {
        self.map(len)?;
        let at = PAGE + (self.taken as usize % OUT_SLOTS) * self.stride;
        self.taken = self.taken.wrapping_add(1);
        let mapping = self.mapping.clone().expect("mapped above");
        Ok(SlotFrame { mapping, at, len })
    }

    /// Gives back to the host every slot taken but the last one's.
    pub fn give_back_all_but_latest(&mut self) {
        self.give_back(self.taken.wrapping_sub(1));
    }

    /// Gives back every slot taken, the last one's too (nothing may refer
    /// to its frame any longer).
    pub fn give_back_all(&mut self) {
        self.give_back(self.taken);
    }

    /// Skips the next frame, unread, and gives back every slot (the
    /// output failed: the host must not be stuck).
    pub fn skip(&mut self) {
        self.taken = self.taken.wrapping_add(1);
        self.give_back_all();
    }

    fn give_back(&mut self, frames: u32) {
        if frames == self.given_back {
            return;
        }
        self.given_back = frames;
        if let Some(mapping) = &self.mapping {
            let counter = mapping.counter();
            counter.store(frames, Ordering::Release);
            wake(counter);
        }
    }
}

/// Gives the host `command` starts `output`'s slots: the descriptor stays
/// open across its exec, named by `SCOPE_OUTPUT_SLOTS`.
pub fn lend(command: &mut Command, output: &OutputSlots) {
    lend_fd(command, OUTPUT_SLOTS, output.file.as_raw_fd());
}

impl OutputSlots {
    /// The slots' file, to read what the host wrote at its head.
    pub fn file(&self) -> io::Result<std::fs::File> {
        Ok(self.file.try_clone()?.into())
    }
}

/// Gives the host `command` starts the descriptor `fd`, named by `variable`:
/// it stays open across the host's exec (and only the host's).
pub fn lend_fd(command: &mut Command, variable: &str, fd: RawFd) {
    command.env(variable, fd.to_string());
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
            assert_eq!(frame.bytes().len(), len);
            assert!(frame.bytes().iter().all(|&b| b == i as u8 + 1), "frame {i}");
            slots.give_back_all_but_latest();
        }
        filler.join().unwrap();
    }

    #[test]
    fn the_latest_frame_stays_in_its_slot_while_the_host_fills_the_others() {
        let mut slots = OutputSlots::new().unwrap();
        let (doorbell_out, doorbell_in) = rustix::pipe::pipe().unwrap();
        let mut doorbell = File::from(doorbell_out);
        let mut host = SlotOutput::new(slots.file.try_clone().unwrap(), File::from(doorbell_in));
        let len = 5000;
        let filler = std::thread::spawn(move || {
            for i in 0..8u8 {
                host.put(len, |bytes| bytes.fill(i + 1)).unwrap();
            }
        });
        assert!(slots.used_by(&doorbell));
        let mut one = [0u8];
        doorbell.read_exact(&mut one).unwrap();
        let latest = slots.next(len).unwrap();
        slots.give_back_all_but_latest();
        // Two more frames fit beside the latest; a third would be filled
        // over it.
        for _ in 0..2 {
            assert!(rings(&doorbell), "the host was not given the other slots");
            doorbell.read_exact(&mut one).unwrap();
        }
        assert!(!rings(&doorbell), "a frame was filled over the latest");
        assert!(latest.bytes().iter().all(|&b| b == 1), "the latest changed");
        // Taking the next frame gives the latest's slot back.
        let next = slots.next(len).unwrap();
        slots.give_back_all_but_latest();
        assert!(rings(&doorbell), "the latest's slot was not given back");
        assert!(next.bytes().iter().all(|&b| b == 2));
        // The rest, each once the host said it filled it.
        for i in 2..8 {
            if i >= 3 {
                doorbell.read_exact(&mut one).unwrap();
            }
            let frame = slots.next(len).unwrap();
            assert!(frame.bytes().iter().all(|&b| b == i + 1), "frame {i}");
            slots.give_back_all_but_latest();
        }
        filler.join().unwrap();
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
        let error = slots.next(5000).err().unwrap().to_string();
        assert!(error.contains("are 4096 bytes"), "{error}");
    }

    #[test]
    fn slots_of_another_count_are_refused() {
        let mut slots = OutputSlots::new().unwrap();
        let len = 5000;
        let more = output_file_len(len) + stride(len);
        rustix::fs::ftruncate(&slots.file, more as u64).unwrap();
        let error = slots.map(len).unwrap_err().to_string();
        assert!(error.contains("another version of scopectl"), "{error}");
        assert!(slots.next(len).is_err(), "mapped after all");
    }
}
