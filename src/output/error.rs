//! How errors reach a person: `error: <what>`, indented `Caused by:` lines,
//! then `hint: <what to do>` when there is one.

use std::io::Write;

use crate::error::ErrorParts;

impl ErrorParts {
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
