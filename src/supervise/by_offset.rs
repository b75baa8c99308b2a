//! The supervisor's end of a host reading its input file by offset
//! (`scope_host::video::by_offset`): the host is given the file, and says
//! before it reads its stdin whether it reads by offset; then each frame
//! it is given is a record of where the frame lies in the file, and the
//! host reads it as a bare host reads its input. The kernel then spares the
//! `splice(2)` of every page into the host's pipe, and the two processes
//! the wake-ups of a frame crossing a pipe a megabyte at a time.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{ChildStdin, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scope_host::video::by_offset::{
    bytes_record, file_record, said_by_offset, INPUT_FILE, RECORD_LEN,
};

use super::held::Held;
use super::session::Shared;

/// The input file as a host may have it: opened anew for reading only
/// (stdin may be open for writing too, `<> FILE`, and a plugin must not
/// get that), with an offset of its own. `None` without `/proc`: hosts
/// are then given frames on stdin.
pub fn read_only(input: &OwnedFd) -> Option<std::sync::Arc<OwnedFd>> {
    use rustix::fs::{Mode, OFlags};
    let path = format!("/proc/self/fd/{}", input.as_raw_fd());
    let file = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    Some(std::sync::Arc::new(file))
}

/// Gives the host `command` starts the input file (`SCOPE_INPUT_FILE`).
pub fn offer(command: &mut Command, input: &OwnedFd) {
    super::slots::lend_fd(command, INPUT_FILE, input.as_raw_fd());
}

/// Whether the host behind `stdin` reads by offset: once it has read the
/// stream's header, it has said so in its output slots' file `slots` or
/// it never will. False when it is gone first, or the stream hands off.
/// When it does, its stdin is made to hold one record: the host is given
/// a frame only once it took the one before (tiny records would otherwise
/// give it the whole file at once, and a host handed off would finish all
/// of it first).
pub fn host_reads(stdin: &ChildStdin, slots: &File, hand_off: &AtomicBool) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    loop {
        // A host says so before it reads anything: once the header is
        // read (asked first), it has said so or never will.
        if rustix::io::ioctl_fionread(stdin).unwrap_or(0) == 0 {
            let said = said_by_offset(slots);
            if said {
                // An empty pipe always shrinks; were it refused, the host
                // would still read records, only further ahead.
                let _ = rustix::pipe::fcntl_setpipe_size(stdin, RECORD_LEN);
            }
            return said;
        }
        let mut gone = [PollFd::new(stdin, PollFlags::OUT)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let ready = poll(&mut gone, Some(&now)).unwrap_or(0);
        if hand_off.load(Ordering::SeqCst)
            || (ready > 0 && gone[0].revents().contains(PollFlags::ERR))
        {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Gives `frame` to a host that reads by offset: where it lies in the
/// input file, or its bytes when it is held elsewhere.
pub fn give(stdin: &mut ChildStdin, frame: &Shared) -> io::Result<()> {
    if let Held::InFile { frame, .. } = &**frame {
        let (at, len) = frame.range();
        return stdin.write_all(&file_record(at, len));
    }
    let mut bytes = Vec::new();
    frame.write_to(&mut bytes)?;
    stdin.write_all(&bytes_record(bytes.len() as u64))?;
    stdin.write_all(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_gets_the_input_file_for_reading_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.y4m");
        fs_err::write(&path, "YUV4MPEG2 W2 H2\n").unwrap();
        let both = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let given = read_only(&OwnedFd::from(both.into_parts().0)).unwrap();
        let mode = rustix::fs::fcntl_getfl(&*given).unwrap();
        assert_eq!(
            mode & rustix::fs::OFlags::RWMODE,
            rustix::fs::OFlags::RDONLY
        );
        let written = rustix::io::write(&*given, b"x");
        assert!(written.is_err(), "a host could write the input file");
    }
}
