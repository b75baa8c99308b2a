//! Debug builds only: `SCOPE_FAILPOINT=<name>` (read with the other
//! settings) stops the process hard at the named point, as `kill -9`
//! would, for the crash-safety tests.

use std::sync::OnceLock;

static ARMED: OnceLock<Option<String>> = OnceLock::new();

/// Arms the failpoint named in the settings, once per process.
pub fn arm(name: Option<String>) {
    let _ = ARMED.set(name.filter(|_| cfg!(debug_assertions)));
}

/// Stops the process here if this is the armed failpoint.
pub fn hit(name: &str) {
    if ARMED.get().and_then(Option::as_deref) == Some(name) {
        eprintln!("failpoint {name}: stopping");
        std::process::abort();
    }
}
