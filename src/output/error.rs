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

/// An error taken apart: what went wrong, its causes, and the hint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErrorParts {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

impl ErrorParts {
    pub fn of(err: &anyhow::Error) -> ErrorParts {
        // A hint given as context is found on the error itself; one deeper
        // in the chain, on its cause.
        let hint = err
            .chain()
            .filter_map(|cause| cause.downcast_ref::<Hinted>())
            .last()
            .or_else(|| err.downcast_ref::<Hinted>())
            .map(|h| h.hint.clone());
        ErrorParts {
            message: err.to_string(),
            causes: err.chain().skip(1).map(ToString::to_string).collect(),
            hint,
        }
    }

    /// As the CLI prints it, without colour.
    pub fn text(&self) -> String {
        let mut out = Vec::new();
        self.write(&mut out, false);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn write(&self, out: &mut impl Write, color: bool) {
        let label = if color {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        let _ = writeln!(out, "{label}: {}", self.message);
        // As cargo prints them: a blank line, `Caused by:`, each cause indented.
        if !self.causes.is_empty() {
            let _ = writeln!(out, "\nCaused by:");
            for cause in &self.causes {
                let _ = writeln!(out, "  {}", cause.replace('\n', "\n  "));
            }
        }
        if let Some(hint) = &self.hint {
            let label = if color {
                "\x1b[1;36mhint\x1b[0m"
            } else {
                "hint"
            };
            let _ = writeln!(out, "\n{label}: {hint}");
        }
    }
}

/// Writes `err` to stderr in the project's format.
pub fn report(err: &anyhow::Error, color: bool) {
    ErrorParts::of(err).write(&mut std::io::stderr().lock(), color);
}
