//! `rollback`: switch to another generation without building.

use anyhow::Result;

use crate::error::Hinted;
use crate::home::{Home, Transaction};
use crate::reporter::Reporter;
use crate::settings::Settings;

/// What a rollback did.
pub enum Switched {
    /// That generation is already active.
    Already(u64),
    /// `from` → `to`; `command` made `to`.
    Switched { from: u64, to: u64, command: String },
}

/// Activates generation `to` (default: the newest one before the active one).
pub fn rollback(
    home: &Home,
    settings: &Settings,
    reporter: &dyn Reporter,
    to: Option<u64>,
) -> Result<Switched> {
    let transaction = Transaction::begin(home, settings.lock_timeout, reporter)?;
    let current = home.current().ok_or_else(|| {
        Hinted::new(
            format!(
                "nothing to roll back: no generation is active in {}",
                home.root().display()
            ),
            "install a plugin first, e.g. `scopectl install ./my-plugin`",
        )
    })?;
    let target = match to {
        Some(n) => n,
        None => home.generations()?.into_iter().filter(|&n| n < current).max().ok_or_else(|| {
            Hinted::new(
                format!("generation {current} is the oldest; there is nothing earlier to roll back to"),
                "see `scopectl history` for the generations there are",
            )
        })?,
    };
    if target == current {
        return Ok(Switched::Already(current));
    }
    let info = home.generation(target).map_err(|err| {
        Hinted::new(
            err.to_string(),
            "see `scopectl history` for the generations there are",
        )
    })?;
    transaction.switch_to(target)?;
    drop(transaction);
    Ok(Switched::Switched {
        from: current,
        to: target,
        command: info.command,
    })
}

/// The health gate's rollback: from generation `from` (which failed its
/// gate) back to `to`, recorded with `reason`. Nothing happens when `from`
/// is no longer the active generation (someone switched meanwhile).
pub fn automatic(
    home: &Home,
    from: u64,
    to: u64,
    reason: &str,
    reporter: &dyn Reporter,
) -> Result<bool> {
    let transaction = Transaction::begin(home, Some(std::time::Duration::from_secs(30)), reporter)?;
    if home.current() != Some(from) {
        return Ok(false);
    }
    home.generation(to)?;
    home.record_automatic_rollback(&crate::home::AutomaticRollback {
        at: crate::time::now_rfc3339(),
        from,
        to,
        reason: reason.to_owned(),
    })?;
    transaction.switch_to(to)?;
    drop(transaction);
    Ok(true)
}
