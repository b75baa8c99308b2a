//! How errors reach a person: `error: <what>`, indented `Caused by:` lines,
//! then `hint: <what to do>` when there is one.

use std::fmt;
use std::io::Write;

/// An error with advice attached; put it anywhere in an `anyhow` chain.
#[derive(Debug)]
pub struct Hinted {
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Hinted {
    /// `message`, with `hint`.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Hinted {
        Hinted {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Writes `err` to stderr in the project's format.
pub fn report(err: &anyhow::Error, color: bool) {
    let mut out = std::io::stderr().lock();
    let label = if color {
        "\x1b[1;31merror\x1b[0m"
    } else {
        "error"
    };
    let _ = writeln!(out, "{label}: {err}");
    let mut hint = None;
    // As cargo prints them: a blank line, `Caused by:`, each cause indented.
    let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
    if !causes.is_empty() {
        let _ = writeln!(out, "\nCaused by:");
        for cause in causes {
            let _ = writeln!(out, "  {}", cause.replace('\n', "\n  "));
        }
    }
    // A hint given as context is found on the error itself; one deeper in
    // the chain, on its cause.
    if let Some(h) = err.downcast_ref::<Hinted>() {
        hint = Some(h.hint.clone());
    }
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            hint = Some(h.hint.clone());
        }
    }
    if let Some(hint) = hint {
        let label = if color {
            "\x1b[1;36mhint\x1b[0m"
        } else {
            "hint"
        };
        let _ = writeln!(out, "\n{label}: {hint}");
    }
}
