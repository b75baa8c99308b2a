//! Runs plugin code so that a panic becomes a message instead of a crash.
//!
//! The panic hook is replaced once, process-wide, by one that records the
//! message and location of panics raised inside [`catch`] (on that thread)
//! and hands every other panic to the previous hook, so test failures and
//! host bugs still print as usual.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.get() {
                return previous(info);
            }
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST_PANIC.set(Some(format!("panicked{location}: {message}")));
        }));
    });
}

/// Runs `f`; a panic inside it comes back as `Err("panicked at FILE:LINE: MESSAGE")`.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let was_catching = CATCHING.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.set(was_catching);
    result.map_err(|_| LAST_PANIC.take().unwrap_or_else(|| "panicked".to_owned()))
}

/// Locks `mutex`, whether or not a thread panicked holding it: a plugin's
/// panic must not stop the rest of the run.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_message_and_location() {
        let err = super::catch(|| -> u8 { panic!("boom {}", 7) }).unwrap_err();
        assert!(err.starts_with("panicked at host/src/guard.rs:"), "{err}");
        assert!(err.ends_with(": boom 7"), "{err}");
        assert_eq!(super::catch(|| 5), Ok(5));
    }
}
