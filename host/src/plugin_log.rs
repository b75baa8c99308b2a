//! Where plugins' log lines go (`scope_plugin_api::warn!` and the rest):
//! each stage thread names its pipeline and the run's log, and a line is
//! written there as `[PIPELINE] LEVEL: …`; debug lines only with
//! `--verbose`, info lines not with `--quiet`. A line from a thread that is
//! not a stage's (a plugin's own thread pool) goes to stderr, prefixed
//! `[plugin]`. A stage's last [`KEPT`] lines are kept for the run's
//! `status` ([`Recent`]), whether or not `--quiet` kept them off the log.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use scope_plugin_api::log::{set_sink, Level};

use crate::guard::lock;
use crate::run::Log;

/// Which of the plugins' lines are shown (`--quiet`, `--verbose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shown {
    /// Warnings and errors.
    Quiet,
    /// Also info lines.
    Normal,
    /// Also debug lines.
    Verbose,
}

impl Shown {
    fn shows(self, level: Level) -> bool {
        match level {
            Level::Error | Level::Warn => true,
            Level::Info => self >= Shown::Normal,
            Level::Debug => self >= Shown::Verbose,
        }
    }
}

/// How many recent lines `status` shows.
pub const KEPT: usize = 20;

/// A run's last lines from its plugins, oldest first.
#[derive(Clone, Default)]
pub struct Recent(Arc<Mutex<VecDeque<String>>>);

impl Recent {
    /// The lines kept (at most [`KEPT`]); debug lines only if shown.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.0).iter().cloned().collect()
    }

    fn keep(&self, line: &str) {
        keep_in(&mut lock(&self.0), line);
    }
}

struct Stage {
    name: String,
    log: Log,
    recent: Recent,
    shown: Shown,
}

thread_local! {
    static STAGE: RefCell<Option<Stage>> = const { RefCell::new(None) };
}

/// Routes plugins' lines through [`sink`] (once per process).
pub fn install() {
    set_sink(sink);
}

/// This thread runs pipeline `name`: its lines go to `log` and `recent`.
pub fn on_this_thread(name: &str, (log, recent): (&Log, &Recent), shown: Shown) {
    STAGE.with(|stage| {
        *stage.borrow_mut() = Some(Stage {
            name: name.to_owned(),
            log: log.clone(),
            recent: recent.clone(),
            shown,
        });
    });
}

fn keep_in(recent: &mut VecDeque<String>, line: &str) {
    if recent.len() == KEPT {
        recent.pop_front();
    }
    recent.push_back(line.to_owned());
}

fn sink(level: Level, args: fmt::Arguments<'_>) {
    STAGE.with(|stage| match &*stage.borrow() {
        Some(stage) => {
            if level == Level::Debug && !stage.shown.shows(level) {
                return;
            }
            let line = format!("[{}] {level}: {args}", stage.name);
            stage.recent.keep(&line);
            if stage.shown.shows(level) {
                let _ = writeln!(lock(&stage.log), "{line}");
            }
        }
        None => eprintln!("[plugin] {level}: {args}"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_keeps_warnings_and_verbose_adds_debug() {
        assert!(Shown::Quiet.shows(Level::Warn));
        assert!(!Shown::Quiet.shows(Level::Info));
        assert!(Shown::Normal.shows(Level::Info));
        assert!(!Shown::Normal.shows(Level::Debug));
        assert!(Shown::Verbose.shows(Level::Debug));
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let mut recent = VecDeque::new();
        for i in 0..KEPT + 5 {
            keep_in(&mut recent, &format!("line {i}"));
        }
        assert_eq!(recent.len(), KEPT);
        assert_eq!(recent.front().map(String::as_str), Some("line 5"));
        assert_eq!(recent.back().map(String::as_str), Some("line 24"));
    }
}
