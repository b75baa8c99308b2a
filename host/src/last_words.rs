//! When a plugin brings the whole host down — an abort (an allocation that
//! failed, `std::process::abort`), a segmentation fault in its unsafe code —
//! no `catch_unwind` sees it. The host's last words then name the pipeline
//! whose thread crashed: a line on stderr, and the same words in the file
//! `SCOPE_HOST_LAST_WORDS` names, if set, for the supervisor (`scopectl
//! run`), whose restart and crash-loop messages name the plugin.
//!
//! Each stage thread says once which stage it runs ([`running`]); a crash on
//! another thread (a plugin's own thread pool) names the pipeline whose call
//! began last. The handler only reads what was prepared before the run and
//! calls `write`, `pwrite` and `sigaction`, which are async-signal-safe; it
//! then puts back the handler it replaced (Rust's own, for stack overflows)
//! and returns, so the crash goes on as it would have.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// "pipeline `id` of plugin NAME VERSION" for each stage, by stage index.
static NAMES: OnceLock<Vec<Box<[u8]>>> = OnceLock::new();
/// The file for the supervisor, or -1.
static FILE: AtomicI32 = AtomicI32::new(-1);
/// The stage whose call began last, plus one (0: none yet).
static LAST_CALLED: AtomicUsize = AtomicUsize::new(0);
/// The handlers replaced, put back by the first crash.
static REPLACED: OnceLock<Vec<(libc::c_int, libc::sigaction)>> = OnceLock::new();

thread_local! {
    /// The stage this thread runs, plus one (0: not a stage thread).
    static STAGE: Cell<usize> = const { Cell::new(0) };
}

const CRASHES: [libc::c_int; 5] = [
    libc::SIGABRT,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
];

/// Prepares the words for a chain of these stages and installs the
/// handlers (once per process).
// The host has no settings layer: the variable is for this module alone,
// and the file is handed to the signal handler as a raw descriptor.
#[allow(unsafe_code, clippy::disallowed_methods)]
pub fn prepare(names: Vec<String>) {
    let _ = NAMES.set(names.into_iter().map(|n| n.into_bytes().into()).collect());
    if let Some(path) = std::env::var_os(crate::LAST_WORDS) {
        if let Ok(file) = std::fs::File::create(path) {
            FILE.store(std::os::fd::IntoRawFd::into_raw_fd(file), Ordering::SeqCst);
        }
    }
    REPLACED.get_or_init(|| {
        CRASHES
            .iter()
            .map(|&signal| {
                // SAFETY: `action` is initialised (zeroed, handler, flags,
                // empty mask) and `replaced` is written by sigaction.
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction =
                        on_crash as extern "C" fn(libc::c_int) as libc::sighandler_t;
                    action.sa_flags = libc::SA_ONSTACK;
                    libc::sigemptyset(&mut action.sa_mask);
                    let mut replaced: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(signal, &action, &mut replaced);
                    (signal, replaced)
                }
            })
            .collect()
    });
}

/// This thread runs stage `index` of the chain.
pub fn running(index: usize) {
    STAGE.with(|stage| stage.set(index + 1));
}

/// Stage `index` begins a call.
pub fn calling(index: usize) {
    LAST_CALLED.store(index + 1, Ordering::Relaxed);
}

#[allow(unsafe_code)]
extern "C" fn on_crash(signal: libc::c_int) {
    let on_this_thread = STAGE.try_with(Cell::get).unwrap_or(0);
    let stage = match on_this_thread {
        0 => LAST_CALLED.load(Ordering::Relaxed),
        stage => stage,
    };
    let name = NAMES
        .get()
        .and_then(|names| names.get(stage.wrapping_sub(1)));
    // SAFETY: write, pwrite and sigaction are async-signal-safe; every
    // buffer is valid for its length; the actions were saved by `prepare`.
    unsafe {
        if let Some(name) = name {
            let say = |bytes: &[u8]| libc::write(2, bytes.as_ptr().cast(), bytes.len());
            say(b"scope-host: crashed in ");
            say(name);
            say(b"\n");
            let file = FILE.load(Ordering::SeqCst);
            if file >= 0 {
                libc::pwrite(file, name.as_ptr().cast(), name.len(), 0);
            }
        }
        if let Some(replaced) = REPLACED.get() {
            if let Some((_, action)) = replaced.iter().find(|(s, _)| *s == signal) {
                libc::sigaction(signal, action, std::ptr::null_mut());
            }
        }
    }
}
