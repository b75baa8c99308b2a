//! The home's locks. `<home>/.lock` is exclusive, held by every command
//! that changes the home. `<home>/.cache.lock` guards the cache against
//! `gc`: commands that read the home without changing it (`--dry-run`,
//! `why`, `update --check`, the API's update check) still download into
//! the cache, so they hold it shared, and `gc` holds it exclusively while
//! it deletes entries nothing refers to (as uv's cache lock does).
//!
//! Each lock is tried first; when another command holds it, scopectl says
//! `Blocking: waiting for …` and waits, at most the timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::error::Hinted;
use crate::reporter::Reporter;

/// A lock of the home; released when dropped.
#[derive(Debug)]
pub struct HomeLock {
    _file: fs_err::File,
}

/// Which lock, and how it is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hold {
    /// The home's lock, for a change.
    Change,
    /// The cache's lock, shared: reading the cache and adding to it.
    CacheShared,
    /// The cache's lock, exclusive: deleting from it (`gc`).
    CacheExclusive,
}

impl Hold {
    fn file(self) -> &'static str {
        match self {
            Hold::Change => ".lock",
            Hold::CacheShared | Hold::CacheExclusive => ".cache.lock",
        }
    }

    fn try_take(self, file: &std::fs::File) -> Result<(), std::fs::TryLockError> {
        match self {
            Hold::CacheShared => file.try_lock_shared(),
            Hold::Change | Hold::CacheExclusive => file.try_lock(),
        }
    }

    fn take(self, file: &std::fs::File) -> std::io::Result<()> {
        match self {
            Hold::CacheShared => file.lock_shared(),
            Hold::Change | Hold::CacheExclusive => file.lock(),
        }
    }

    fn waiting(self, root: &Path) -> String {
        match self {
            Hold::Change => format!("Blocking: waiting for lock on {}", root.display()),
            Hold::CacheShared => format!(
                "Blocking: waiting for `gc` to finish with the cache of {}",
                root.display()
            ),
            Hold::CacheExclusive => format!(
                "Blocking: waiting for the commands reading the cache of {} to finish",
                root.display()
            ),
        }
    }
}

/// Takes lock `hold` of the home at `root`.
pub(super) fn lock(
    root: &Path,
    hold: Hold,
    timeout: Option<Duration>,
    reporter: &dyn Reporter,
) -> Result<HomeLock> {
    let path = root.join(hold.file());
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .context("cannot open the home's lock file")?;
    let cannot = || format!("cannot lock `{}`", path.display());
    match hold.try_take(file.file()) {
        Ok(()) => return Ok(HomeLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => reporter.blocking(&hold.waiting(root)),
        Err(std::fs::TryLockError::Error(err)) => return Err(err).with_context(cannot),
    }
    let Some(timeout) = timeout else {
        hold.take(file.file()).with_context(cannot)?;
        return Ok(HomeLock { _file: file });
    };
    let started = Instant::now();
    loop {
        match hold.try_take(file.file()) {
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
