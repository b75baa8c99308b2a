//! The home: the one directory that holds a user's plugin state.
//!
//! ```text
//! <home>/plugins.toml            what the user asked for
//! <home>/resolved.lock           exactly what was chosen
//! <home>/generations/<N>/        one immutable snapshot per successful change
//! <home>/current -> generations/<N>
//! <home>/bin/scope-host -> ../current/scope-host
//! <home>/build/                  disposable: the generated host crate, target directory
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fsx;

/// The name of the host binary inside a generation and under `bin/`.
pub const HOST_BINARY: &str = if cfg!(windows) {
    "scope-host.exe"
} else {
    "scope-host"
};

/// A home directory.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home at `root` (created when missing).
    pub fn open(root: &Path) -> Result<Home> {
        fs_err::create_dir_all(root)
            .with_context(|| format!("cannot create the home `{}`", root.display()))?;
        Ok(Home {
            root: fs_err::canonicalize(root)?,
        })
    }

    /// `SCOPE_HOME`, else `~/.scope`.
    pub fn default_root() -> Result<PathBuf> {
        if let Some(home) = std::env::var_os("SCOPE_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(home));
        }
        let user = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .filter(|v| !v.is_empty())
            .context("cannot tell where the home is: set `SCOPE_HOME` or pass `--home DIR`")?;
        Ok(PathBuf::from(user).join(".scope"))
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `plugins.toml`.
    pub fn plugins_toml(&self) -> PathBuf {
        self.root.join("plugins.toml")
    }

    /// `resolved.lock`.
    pub fn resolved_lock(&self) -> PathBuf {
        self.root.join("resolved.lock")
    }

    /// Disposable build state.
    pub fn build_dir(&self) -> PathBuf {
        self.root.join("build")
    }

    /// `generations/`.
    pub fn generations_dir(&self) -> PathBuf {
        self.root.join("generations")
    }

    /// `generations/<n>/`.
    pub fn generation_dir(&self, n: u64) -> PathBuf {
        self.generations_dir().join(n.to_string())
    }

    /// `bin/scope-host`: the stable path of the active host.
    pub fn host_path(&self) -> PathBuf {
        self.root.join("bin").join(HOST_BINARY)
    }

    /// The number of the active generation, if any.
    pub fn current(&self) -> Option<u64> {
        let target = fs_err::read_link(self.root.join("current")).ok()?;
        target.file_name()?.to_str()?.parse().ok()
    }

    /// The numbers of every complete generation, ascending.
    pub fn generations(&self) -> Result<Vec<u64>> {
        let mut numbers = Vec::new();
        if let Ok(entries) = fs_err::read_dir(self.generations_dir()) {
            for entry in entries {
                let name = entry?.file_name();
                if let Some(n) = name.to_str().and_then(|s| s.parse().ok()) {
                    numbers.push(n);
                }
            }
        }
        // A generation an unfinished change is about to activate is not one
        // yet: readers never see a half-made change.
        if let Some(pending) = self.pending() {
            if self.current() != Some(pending) {
                numbers.retain(|&n| n != pending);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// The generation the journal of a change in progress names, if any.
    pub fn pending(&self) -> Option<u64> {
        let journal = fs_err::read_to_string(self.root.join(".transaction")).ok()?;
        journal
            .lines()
            .find_map(|l| l.strip_prefix("new = "))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Makes generation `n` the active one: `current` switches with one
    /// atomic rename, and `bin/scope-host` points through it.
    pub fn activate(&self, n: u64) -> Result<()> {
        fsx::symlink_atomic(
            &Path::new("generations").join(n.to_string()),
            &self.root.join("current"),
        )?;
        let host = self.host_path();
        let expected = Path::new("..").join("current").join(HOST_BINARY);
        if fs_err::read_link(&host).ok().as_deref() != Some(expected.as_path()) {
            fsx::symlink_atomic(&expected, &host)?;
        }
        Ok(())
    }
}

/// The home's exclusive lock, held by every command that changes it.
#[derive(Debug)]
pub struct HomeLock {
    _file: std::fs::File,
}

impl Home {
    /// Takes the home's lock. When another command holds it, `on_wait` is
    /// called once (to print `Blocking: waiting for lock on <home>`) and the
    /// wait lasts at most `timeout`, or as long as it takes.
    pub fn lock(
        &self,
        timeout: Option<std::time::Duration>,
        on_wait: impl FnOnce(),
    ) -> Result<HomeLock> {
        let path = self.root.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file `{}`", path.display()))?;
        match file.try_lock() {
            Ok(()) => return Ok(HomeLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => on_wait(),
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("cannot lock `{}`", path.display()));
            }
        }
        let Some(timeout) = timeout else {
            file.lock()
                .with_context(|| format!("cannot lock `{}`", path.display()))?;
            return Ok(HomeLock { _file: file });
        };
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(HomeLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(crate::error::Hinted::new(
                        format!(
                            "gave up after {:.1} s waiting for the lock on {}",
                            timeout.as_secs_f64(),
                            self.root.display()
                        ),
                        "another scopectl command is changing this home; wait for it, or raise SCOPE_LOCK_TIMEOUT",
                    )
                    .into());
                }
                Err(std::fs::TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("cannot lock `{}`", path.display()));
                }
            }
        }
    }
}

/// `SCOPE_LOCK_TIMEOUT`: seconds to wait for the home's lock; unset waits as long as it takes.
pub fn lock_timeout() -> Result<Option<std::time::Duration>> {
    match std::env::var("SCOPE_LOCK_TIMEOUT") {
        Err(_) => Ok(None),
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => {
            let secs: f64 = v
                .parse()
                .ok()
                .filter(|s: &f64| *s >= 0.0 && s.is_finite())
                .with_context(|| {
                    format!("SCOPE_LOCK_TIMEOUT is `{v}`; give a number of seconds")
                })?;
            Ok(Some(std::time::Duration::from_secs_f64(secs)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_locker_waits_then_gives_up_after_the_timeout() {
        let temp = tempfile::tempdir().unwrap();
        let home = Home::open(temp.path()).unwrap();
        let held = home
            .lock(None, || panic!("the first locker does not wait"))
            .unwrap();
        let mut waited = false;
        let err = home
            .lock(Some(std::time::Duration::from_millis(200)), || {
                waited = true
            })
            .unwrap_err();
        assert!(waited, "told the user it is waiting");
        assert!(
            err.to_string()
                .starts_with("gave up after 0.2 s waiting for the lock on"),
            "{err}"
        );
        drop(held);
        home.lock(Some(std::time::Duration::ZERO), || panic!("free now"))
            .unwrap();
    }
}
