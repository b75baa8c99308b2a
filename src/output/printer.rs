//! The one handle that decides what reaches the terminal: quiet, normal or
//! verbose status lines on stderr, colour, and whether progress bars are
//! drawn (only when stderr is a terminal and `SCOPE_NO_PROGRESS` is unset).
//! It is the CLI's [`Reporter`].

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::reporter::{Progress, Reporter};
use crate::settings::OutputSettings;

/// How much to say (`-qq`, `-q`, nothing, `-v`, `-vv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only: not even that a command waits for the home's lock.
    Silent,
    /// Data and errors: no status lines, no warnings.
    Quiet,
    /// Status lines.
    Normal,
    /// Status lines, details and cargo's own output.
    Verbose,
    /// All that, and every command run.
    Trace,
}

/// Writes status lines and hands out progress bars.
#[derive(Debug, Clone)]
pub struct Printer {
    verbosity: Verbosity,
    color: bool,
    progress: bool,
}

impl Printer {
    /// A printer for this process's stderr.
    pub fn new(settings: &OutputSettings) -> Printer {
        let terminal = std::io::stderr().is_terminal();
        Printer {
            verbosity: settings.verbosity,
            color: settings.color.unwrap_or(terminal),
            // A bar only where it can be redrawn, and not over cargo's own lines.
            progress: terminal && settings.progress && settings.verbosity == Verbosity::Normal,
        }
    }

    /// `   Verb message`, cargo style: the verb right-aligned in 12 columns.
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Normal {
            self.line(verb, message);
        }
    }

    /// One line of a plan or of what changed (`+ my-fx v0.1.0`), on stderr
    /// with the status lines: stdout carries data only.
    pub fn plan(&self, line: &str) {
        if self.verbosity >= Verbosity::Normal {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    /// A status line shown only with `--verbose`.
    pub fn detail(&self, verb: &str, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Verbose {
            self.line(verb, message);
        }
    }

    fn line(&self, verb: &str, message: impl std::fmt::Display) {
        let verb = if self.color {
            format!("\x1b[1;32m{verb:>12}\x1b[0m")
        } else {
            format!("{verb:>12}")
        };
        let _ = writeln!(std::io::stderr(), "{verb} {message}");
    }

    /// A line that must reach the user even when quiet: the wait for a lock.
    pub fn blocking(&self, message: &str) {
        if self.verbosity > Verbosity::Silent {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }

    /// A warning, shown unless quiet.
    pub fn warn(&self, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Normal {
            let label = if self.color {
                "\x1b[1;33mwarning\x1b[0m"
            } else {
                "warning"
            };
            let _ = writeln!(std::io::stderr(), "{label}: {message}");
        }
    }

    /// Whether colour is on.
    pub fn color(&self) -> bool {
        self.color
    }

    /// A byte counter for transfers of unknown size, hidden when progress is off.
    fn bytes(&self, verb: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_finish(indicatif::ProgressFinish::AndClear);
        let template = if self.color {
            "{prefix:>12.cyan.bold} {bytes} ({bytes_per_sec}) {wide_msg}"
        } else {
            "{prefix:>12} {bytes} ({bytes_per_sec}) {wide_msg}"
        };
        bar.set_style(ProgressStyle::with_template(template).expect("a valid template"));
        bar.set_prefix(verb.to_owned());
        bar
    }

    /// A progress bar of `len` steps, hidden when progress is off.
    fn bar(&self, verb: &str, len: u64) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let template = if self.color {
            "{prefix:>12.cyan.bold} [{bar:30}] {pos}/{len}: {wide_msg}"
        } else {
            "{prefix:>12} [{bar:30}] {pos}/{len}: {wide_msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(verb.to_owned());
        bar
    }
}

impl Reporter for Printer {
    fn status(&self, verb: &str, message: &str) {
        Printer::status(self, verb, message);
    }

    fn detail(&self, verb: &str, message: &str) {
        Printer::detail(self, verb, message);
    }

    fn warn(&self, message: &str) {
        Printer::warn(self, message);
    }

    fn blocking(&self, message: &str) {
        Printer::blocking(self, message);
    }

    fn output(&self, text: &str) {
        if self.verbosity >= Verbosity::Verbose {
            let _ = write!(std::io::stderr(), "{text}");
        }
    }

    fn running(&self, command: &str) {
        if self.verbosity >= Verbosity::Trace {
            self.line("Running", format!("`{command}`"));
        }
    }

    fn shows_progress(&self) -> bool {
        self.progress
    }

    fn progress(&self, verb: &str, total: Option<u64>) -> Box<dyn Progress> {
        Box::new(Bar(match total {
            Some(len) => self.bar(verb, len),
            None => self.bytes(verb),
        }))
    }
}

/// An indicatif bar behind [`Progress`].
struct Bar(ProgressBar);

impl Progress for Bar {
    fn inc(&self, steps: u64) {
        self.0.inc(steps);
    }

    fn set_message(&self, message: &str) {
        self.0.set_message(message.to_owned());
    }

    fn finish(&self) {
        self.0.finish_and_clear();
        self.0.reset();
    }
}
