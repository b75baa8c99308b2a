//! A scratch directory for one test of the `scopectl` binary and the
//! environment the binary runs in: no user configuration, no progress, no
//! colour, a fixed width, dev-profile hosts built in one target directory
//! shared by every test, and cargo kept off the network.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory (`temp`), the home inside it, and the binary under
/// test.
pub struct TestContext {
    pub temp: tempfile::TempDir,
    binary: PathBuf,
    repo: PathBuf,
}

impl TestContext {
    /// A scratch directory for testing `binary` (the crate's
    /// `env!("CARGO_BIN_EXE_scopectl")`) of the workspace at `repo`. Its
    /// cargo configuration keeps host builds off the network (cargo reads
    /// it in the host crate's directory below); scopectl's own sources
    /// stay online, for the fixture registry.
    pub fn new(binary: impl Into<PathBuf>, repo: impl Into<PathBuf>) -> TestContext {
        let temp = tempfile::tempdir().expect("a temporary directory");
        fs_err::create_dir_all(temp.path().join(".cargo")).unwrap();
        fs_err::write(
            temp.path().join(".cargo/config.toml"),
            "[net]\noffline = true\n",
        )
        .unwrap();
        TestContext {
            temp,
            binary: binary.into(),
            repo: repo.into(),
        }
    }

    /// The scopectl home of this test.
    pub fn home(&self) -> PathBuf {
        self.temp.path().join("home")
    }

    /// `scopectl --home HOME` in the scrubbed environment.
    pub fn scopectl(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--home").arg(self.home());
        scrub(&mut command, self.temp.path(), &self.repo);
        command
    }
}

/// The target directory every test host of the workspace at `repo` is
/// built in; emptied first, once per test process, when it has grown past
/// [`PRUNE_AT`] (see [`prune`]).
pub fn shared_target_dir(repo: &Path) -> PathBuf {
    static PRUNED: std::sync::Once = std::sync::Once::new();
    let dir = repo.join("target").join("test-hosts");
    PRUNED.call_once(|| prune(&dir, PRUNE_AT));
    dir
}

/// How large the shared target directory may grow before a test process
/// empties it.
pub const PRUNE_AT: u64 = 16 << 30;

/// Empties the build products of `dir` (a target directory) when they take
/// more than `limit` bytes. Each test builds its plugins from a fresh
/// temporary path, which cargo takes for a new package: every run of the
/// suite leaves 3–7 GB that no later run uses, and after a few days of runs
/// (48 GB) the disk was full. Called before the process's first build, so
/// no build of its own is under way; the next one compiles the SDK again.
/// (Test processes that run side by side, as `cargo nextest` runs them,
/// could empty it under each other's builds the one time it crosses the
/// limit; `cargo test` runs one test process at a time.)
pub fn prune(dir: &Path, limit: u64) {
    let products = dir.join("debug");
    if bytes_under(&products) > limit {
        let _ = fs_err::remove_dir_all(&products);
    }
}

/// The bytes of the files under `dir` (symbolic links not followed).
fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Scrubs a command's environment as the tests need it (reading the test
/// process's own environment to do so), with `scratch` as `HOME`.
#[allow(clippy::disallowed_methods)]
pub fn scrub(command: &mut Command, scratch: &Path, repo: &Path) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("SCOPE_")
            || key == "NO_COLOR"
            || key == "CARGO_TARGET_DIR"
            || key == "XDG_CACHE_HOME"
        {
            command.env_remove(&key);
        }
    }
    command
        .env("HOME", scratch)
        .env("SCOPE_NO_PROGRESS", "1")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("SCOPE_HOST_PROFILE", "dev")
        .env("CARGO_TARGET_DIR", shared_target_dir(repo))
        .env("CARGO_HOME", cargo_home());
}

/// The cargo home with the registry cache the workspace build filled
/// (tests point `HOME` elsewhere, so it is passed explicitly).
#[allow(clippy::disallowed_methods)]
pub fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME is set")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_products_past_the_limit_are_emptied_and_others_kept() {
        let target = tempfile::tempdir().unwrap();
        let deps = target.path().join("debug/deps");
        fs_err::create_dir_all(&deps).unwrap();
        fs_err::write(deps.join("libfx-1.rlib"), vec![0; 3000]).unwrap();
        fs_err::write(target.path().join("keep.txt"), "not a build product").unwrap();
        prune(target.path(), 3000);
        assert!(deps.join("libfx-1.rlib").exists(), "at the limit: kept");
        prune(target.path(), 2999);
        assert!(!target.path().join("debug").exists(), "past it: emptied");
        assert!(target.path().join("keep.txt").exists());
    }
}
