//! The home's exclusive lock (`<home>/.lock`), held by every command that
//! changes the home: try first; when another command holds it, say
//! `Blocking: waiting for lock on <home>` and wait, at most the timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::output::error::Hinted;
use crate::reporter::Reporter;

/// The home's lock; released when dropped.
#[derive(Debug)]
pub struct HomeLock {
    _file: fs_err::File,
}

/// Takes the lock of the home at `root`.
pub(super) fn lock(
    root: &Path,
    timeout: Option<Duration>,
    reporter: &dyn Reporter,
) -> Result<HomeLock> {
    let path = root.join(".lock");
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .context("cannot open the home's lock file")?;
    let cannot = || format!("cannot lock `{}`", path.display());
    match file.file().try_lock() {
        Ok(()) => return Ok(HomeLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => {
            reporter.blocking(&format!("Blocking: waiting for lock on {}", root.display()));
        }
        Err(std::fs::TryLockError::Error(err)) => return Err(err).with_context(cannot),
    }
    let Some(timeout) = timeout else {
        file.file().lock().with_context(cannot)?;
        return Ok(HomeLock { _file: file });
    };
    let started = Instant::now();
    loop {
        match file.file().try_lock() {
            Ok(()) => return Ok(HomeLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Hinted::new(
                    format!(
                        "gave up after {:.1} s waiting for the lock on {}",
                        timeout.as_secs_f64(),
                        root.display()
                    ),
                    "another scopectl command is changing this home; wait for it, or raise SCOPE_LOCK_TIMEOUT",
                )
                .into());
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(err).with_context(cannot),
        }
    }
}
