//! Errors with advice: [`Hinted`] carries what to do about an error
//! anywhere in an `anyhow` chain, and [`ErrorParts`] takes an error apart
//! into what went wrong, its causes and the hint. Every layer raises them;
//! the terminal (`output::error`) and the API (`serve`) present them.

use std::fmt;

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
}
