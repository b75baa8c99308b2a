//! How operations tell a person what they are doing, without knowing who
//! listens: the CLI's printer draws status lines and progress bars on a
//! terminal; a server could turn the same calls into log lines or events.
//! Operations take a `&dyn Reporter`; nothing below the command layer
//! writes to the terminal itself.

/// Receives what an operation has to say while it runs.
pub trait Reporter: Send + Sync {
    /// A status line: a verb (`Building`) and what it applies to.
    fn status(&self, verb: &str, message: &str);
    /// A status line worth showing only to whoever asked for detail
    /// (by default, nobody).
    fn detail(&self, verb: &str, message: &str) {
        let _ = (verb, message);
    }
    /// Something went wrong but the operation goes on.
    fn warn(&self, message: &str);
    /// The operation waits for another one (the home's lock).
    fn blocking(&self, message: &str);
    /// Output of a tool the operation runs (cargo's messages), for whoever
    /// asked to see it (by default, nobody).
    fn output(&self, text: &str) {
        let _ = text;
    }
    /// A command the operation is about to run, for whoever asked to see it
    /// (by default, nobody).
    fn running(&self, command: &str) {
        let _ = command;
    }
    /// Whether progress is shown at all; an operation may skip the work of
    /// counting steps when it is not (by default, it is not).
    fn shows_progress(&self) -> bool {
        false
    }
    /// A progress indicator of `total` steps (`None`: a byte counter); by
    /// default one that shows nothing.
    fn progress(&self, verb: &str, total: Option<u64>) -> Box<dyn Progress> {
        let _ = (verb, total);
        Box::new(Silent)
    }
}

/// One progress indicator.
pub trait Progress: Send + Sync {
    /// Advances by `steps` (or bytes).
    fn inc(&self, steps: u64);
    /// What is being worked on now.
    fn set_message(&self, message: &str);
    /// Removes the indicator.
    fn finish(&self);
}

/// A reporter that says nothing: for operations run where nobody listens.
pub struct Silent;

impl Reporter for Silent {
    fn status(&self, _: &str, _: &str) {}
    fn warn(&self, _: &str) {}
    fn blocking(&self, _: &str) {}
}

impl Progress for Silent {
    fn inc(&self, _: u64) {}
    fn set_message(&self, _: &str) {}
    fn finish(&self) {}
}
