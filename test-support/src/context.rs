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
/// built in.
pub fn shared_target_dir(repo: &Path) -> PathBuf {
    repo.join("target").join("test-hosts")
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
