//! Generates and builds a host binary with a given set of plugins.
//!
//! The host crate is written to a build directory of the home; the SDK crates
//! it depends on are written next to the compiled artifacts (in the target
//! directory, by content hash) so that homes sharing `CARGO_TARGET_DIR` share
//! their compiled crates too. cargo runs with JSON messages: progress counts
//! compiled crates, and a failure names the plugin that did not compile with
//! the compiler's own diagnostics.

mod cargo;
pub mod manifest;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::embedded;
use crate::fsx;
use crate::plugin_crate::PluginCrate;
use crate::printer::Printer;

pub use cargo::BuildFailure;

/// The cargo profile a host is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Optimised: what users run.
    Release,
    /// Unoptimised and quick to build: for tests and plugin development.
    Dev,
}

impl Profile {
    /// From `SCOPE_HOST_PROFILE` (`release`, the default, or `dev`).
    pub fn from_env() -> Result<Profile> {
        match std::env::var("SCOPE_HOST_PROFILE").as_deref() {
            Err(_) | Ok("" | "release") => Ok(Profile::Release),
            Ok("dev" | "debug") => Ok(Profile::Dev),
            Ok(other) => anyhow::bail!("SCOPE_HOST_PROFILE is `{other}`; use `release` or `dev`"),
        }
    }
}

/// Builds host binaries for one home.
#[derive(Debug, Clone)]
pub struct HostBuilder {
    /// Where the generated crate is written.
    pub crate_dir: PathBuf,
    /// cargo's target directory.
    pub target_dir: PathBuf,
    /// The profile.
    pub profile: Profile,
    /// Build from what cargo has cached, without the network.
    pub offline: bool,
}

/// A freshly built host.
#[derive(Debug, Clone)]
pub struct BuiltHost {
    /// The binary, in the target directory; copy it before the next build.
    pub binary: PathBuf,
    /// The generated crate's `Cargo.lock`: the full crate graph of the build.
    pub cargo_lock: PathBuf,
}

impl HostBuilder {
    /// A builder that keeps its crate in `build_dir/host` and compiles into
    /// `CARGO_TARGET_DIR`, or `build_dir/target` when that is unset.
    pub fn for_build_dir(build_dir: &Path, profile: Profile, offline: bool) -> HostBuilder {
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| build_dir.join("target"));
        HostBuilder {
            crate_dir: build_dir.join("host"),
            target_dir,
            profile,
            offline: offline || std::env::var_os("CARGO_NET_OFFLINE").is_some_and(|v| v == "true"),
        }
    }

    /// Generates the host crate for `plugins` and builds it.
    pub fn build(&self, plugins: &[PluginCrate], printer: &Printer) -> Result<BuiltHost> {
        fs_err::create_dir_all(&self.target_dir)?;
        let target_dir = fs_err::canonicalize(&self.target_dir)?;
        let sdk = embedded::write_sdk(&target_dir.join("scope-sdk"))?;
        // Each home's host gets its own binary name, so that builds of two
        // homes sharing a target directory never overwrite each other's output.
        let bin_name = format!("scope-host-{}", short_hash(&self.crate_dir));
        fsx::write_if_changed(
            &self.crate_dir.join("Cargo.toml"),
            manifest::cargo_toml(&bin_name, plugins, &sdk).as_bytes(),
        )?;
        fsx::write_if_changed(
            &self.crate_dir.join("main.rs"),
            manifest::main_rs(plugins).as_bytes(),
        )?;
        let binary = cargo::build(self, &target_dir, &bin_name, plugins, printer)?;
        Ok(BuiltHost {
            binary,
            cargo_lock: self.crate_dir.join("Cargo.lock"),
        })
    }
}

fn short_hash(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The cargo to run: `CARGO`, else `cargo` on `PATH`.
pub fn cargo_command() -> std::process::Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    std::process::Command::new(cargo)
}

/// Keeps errors about a missing cargo readable.
pub fn describe_spawn_error(err: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(err).context("cannot run cargo; is a Rust toolchain installed?")
}
