//! Logging for plugins: [`error!`](crate::error!), [`warn!`](crate::warn!),
//! [`info!`](crate::info!) and [`debug!`](crate::debug!), with `format!`'s
//! syntax. Inside a host each line is written to the host's log prefixed
//! with the pipeline that wrote it (`[invert] warn: …`); debug lines only
//! when the host runs with `--verbose`. Outside a host (a unit test) lines
//! go to stderr as they are.
//!
//! ```
//! use scope_plugin_api::warn;
//! let missing = "model.onnx";
//! warn!("{missing} not found: falling back to the CPU path");
//! ```

use std::fmt;
use std::sync::OnceLock;

/// How much a line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something is off, and the pipeline goes on.
    Warn,
    /// Worth knowing.
    Info,
    /// For the plugin's author.
    Debug,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        })
    }
}

/// Where lines go: set once by the host.
type Sink = fn(Level, fmt::Arguments<'_>);

static SINK: OnceLock<Sink> = OnceLock::new();

/// For the host: where plugins' lines go from now on (the first call wins).
#[doc(hidden)]
pub fn set_sink(sink: Sink) {
    let _ = SINK.set(sink);
}

/// Writes one line at `level` (what the macros call).
#[doc(hidden)]
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    match SINK.get() {
        Some(sink) => sink(level, args),
        None => eprintln!("{level}: {args}"),
    }
}

/// Logs a line at [`Level::Error`].
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)*)) };
}

/// Logs a line at [`Level::Warn`].
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($arg)*)) };
}

/// Logs a line at [`Level::Info`].
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// Logs a line at [`Level::Debug`] (shown by a host run with `--verbose`).
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($arg)*)) };
}
