//! The terminal: the [`Printer`] (status lines, warnings and progress bars
//! on stderr, the CLI's [`Reporter`](crate::reporter::Reporter)) and
//! [`error::report`], which prints an error with its causes and hint.
//! indicatif is used here and nowhere else.

pub mod error;
mod printer;

pub use printer::{Printer, Verbosity};
