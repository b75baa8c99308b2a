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
        numbers.sort_unstable();
        Ok(numbers)
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
