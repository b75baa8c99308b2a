//! SIGINT and SIGTERM end a run cleanly: the first stops the input, the
//! frames in flight are finished and written, the summary printed, and the
//! host exits with 128 + the signal (130, 143). A second one stops at once,
//! at a frame boundary (see `run`).
//!
//! The handler only counts: the run loop polls [`received`] and [`count`].

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

static COUNT: AtomicUsize = AtomicUsize::new(0);
static FIRST: AtomicI32 = AtomicI32::new(0);

/// The first stop signal received, if any.
pub fn received() -> Option<i32> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// How many stop signals were received.
pub fn count() -> usize {
    COUNT.load(Ordering::SeqCst)
}

/// The name of a stop signal, for messages.
pub fn name(signal: i32) -> &'static str {
    #[cfg(unix)]
    if signal == libc::SIGINT {
        return "SIGINT";
    }
    let _ = signal;
    "SIGTERM"
}

#[cfg(unix)]
extern "C" fn on_signal(signal: libc::c_int) {
    // Only atomics: nothing else is safe in a signal handler.
    let _ = FIRST.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Installs the handlers for SIGINT and SIGTERM.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `action` is fully initialised (zeroed, then the handler and
        // an empty mask set); the handler only touches atomics, which is
        // async-signal-safe. SA_RESTART keeps blocking reads and writes
        // going, so no I/O sees EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Signals are not handled on this platform.
#[cfg(not(unix))]
pub fn install() {}

/// The process's standard input, read so that the first stop signal ends
/// it: while no byte is waiting, it looks for a signal every 50 ms, and
/// after one it reads as the end of the stream. A signal that lands just
/// after the last frame was read (kill(2) returns before the handler runs)
/// would otherwise leave the input waiting for a frame that never comes.
#[cfg(unix)]
pub struct Stdin;

#[cfg(unix)]
impl std::io::Read for Stdin {
    #[allow(unsafe_code)]
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut fd = libc::pollfd {
                fd: libc::STDIN_FILENO,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid `pollfd`, and its count is 1.
            let ready = unsafe { libc::poll(&mut fd, 1, 50) };
            if ready == 0 {
                if received().is_some() {
                    return Ok(0);
                }
                continue;
            }
            if ready < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            // Read the descriptor itself: `std::io::stdin()` keeps a buffer
            // of its own that `poll` cannot see.
            // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
            let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
