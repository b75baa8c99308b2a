//! Debug builds only: `SCOPE_FAILPOINT=<name>` (read with the other
//! settings) stops the process hard at the named point, as `kill -9`
//! would, for the crash-safety tests; `SCOPE_FAILPOINT=pause:<name>`
//! pauses there for [`PAUSE`], saying so on stderr, so a test can signal
//! the process at that very point.

use std::sync::OnceLock;

static ARMED: OnceLock<Option<String>> = OnceLock::new();

/// Arms the failpoint named in the settings, once per process.
pub fn arm(name: Option<String>) {
    let _ = ARMED.set(name.filter(|_| cfg!(debug_assertions)));
}

/// How long a `pause:` failpoint pauses.
pub const PAUSE: std::time::Duration = std::time::Duration::from_secs(3);

/// Stops the process here if this is the armed failpoint (or pauses, for
/// `pause:<name>`).
pub fn hit(name: &str) {
    let Some(armed) = ARMED.get().and_then(Option::as_deref) else {
        return;
    };
    if armed == name {
        eprintln!("failpoint {name}: stopping");
        std::process::abort();
    }
    if armed.strip_prefix("pause:") == Some(name) {
        eprintln!("failpoint {name}: pausing");
        std::thread::sleep(PAUSE);
    }
}
