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
pub mod usage;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::embedded;
use crate::fsx;
use crate::plugin_crate::PluginCrate;
use crate::reporter::Reporter;
use crate::settings::BuildSettings;
use scope_lockfile::CratePin;

pub use cargo::BuildFailure;

/// Builds host binaries for one home.
#[derive(Debug, Clone)]
pub struct HostBuilder {
    /// Where the generated crate is written.
    pub crate_dir: PathBuf,
    /// cargo's target directory.
    pub target_dir: PathBuf,
    /// Which cargo, which profile, online or not.
    pub settings: BuildSettings,
}

/// Where cargo starts from: the host's crate graph as `resolved.lock`
/// recorded it, or nothing.
#[derive(Debug, Clone, Copy)]
pub enum Graph<'a> {
    /// Resolve every third-party crate anew, to the newest its requirements
    /// allow (`scopectl update` with no names).
    Fresh,
    /// Keep every recorded crate where it is unless the change needs it to
    /// move, as cargo does with an existing `Cargo.lock`.
    Keep(&'a [CratePin]),
    /// Build exactly these crates; fail rather than move one (`--locked`).
    Locked(&'a [CratePin]),
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
    /// `CARGO_TARGET_DIR`, else the user cache's target directory for this
    /// plugin API (shared by every home: cargo keeps what each toolchain
    /// compiled apart inside it), else `build_dir/target`.
    pub fn new(build_dir: &Path, settings: &BuildSettings) -> HostBuilder {
        HostBuilder {
            crate_dir: build_dir.join("host"),
            target_dir: settings
                .target_dir
                .clone()
                .or_else(|| settings.shared_target_dir.clone())
                .unwrap_or_else(|| build_dir.join("target")),
            settings: settings.clone(),
        }
    }

    /// Generates the host crate for `plugins` and builds it, starting from
    /// the crate graph `graph` says.
    pub fn build(
        &self,
        plugins: &[PluginCrate],
        graph: &Graph<'_>,
        reporter: &dyn Reporter,
    ) -> Result<BuiltHost> {
        let (target_dir, bin_name) = self.write_crate(plugins, graph)?;
        let started = std::time::Instant::now();
        let binary = cargo::build(self, &target_dir, &bin_name, plugins, graph, reporter)?;
        crate::metrics::global()
            .builds
            .observe(started.elapsed().as_secs_f64());
        Ok(BuiltHost {
            binary,
            cargo_lock: self.crate_dir.join("Cargo.lock"),
        })
    }

    /// Generates the host crate for `plugins` and downloads every crate
    /// its build needs into cargo's cache (`cargo fetch`), building nothing.
    pub fn fetch(&self, plugins: &[PluginCrate], graph: &Graph<'_>) -> Result<()> {
        let (target_dir, _) = self.write_crate(plugins, graph)?;
        cargo::fetch(self, &target_dir, graph)
    }

    /// The third-party crates that could move within their requirements,
    /// as `(name, locked version, newest compatible version)`, without
    /// changing anything (`cargo update --dry-run`).
    pub fn crate_updates(
        &self,
        plugins: &[PluginCrate],
        graph: &Graph<'_>,
    ) -> Result<Vec<(String, String, String)>> {
        self.write_crate(plugins, graph)?;
        cargo::update_dry_run(self)
    }

    /// Every package the host for `plugins` is built from (plugins and
    /// third-party crates; not the SDK), from cargo's resolved graph,
    /// compiling nothing.
    pub fn packages(&self, plugins: &[PluginCrate], graph: &Graph<'_>) -> Result<Vec<Package>> {
        let (target_dir, _) = self.write_crate(plugins, graph)?;
        cargo::packages(self, &target_dir.join("scope-sdk"))
    }

    /// The packages of the host crate last written here (a home's active
    /// build), read offline.
    pub fn packages_of_last_build(&self) -> Result<Vec<Package>> {
        let sdk = fs_err::canonicalize(&self.target_dir)?.join("scope-sdk");
        cargo::packages(self, &sdk)
    }

    /// Writes the host crate and its `Cargo.lock`; returns the target
    /// directory and the binary's name.
    fn write_crate(&self, plugins: &[PluginCrate], graph: &Graph<'_>) -> Result<(PathBuf, String)> {
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
        let cargo_lock = self.crate_dir.join("Cargo.lock");
        match graph {
            Graph::Fresh => {
                if cargo_lock.exists() {
                    fs_err::remove_file(&cargo_lock)?;
                }
            }
            Graph::Keep(crates) | Graph::Locked(crates) => {
                fsx::write_if_changed(&cargo_lock, CratePin::to_cargo_lock(crates).as_bytes())?;
            }
        }
        Ok((target_dir, bin_name))
    }
}

fn short_hash(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    scope_registry_client::registry::hex(&digest[..4])
}

/// One package of a host build.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// The SPDX expression of `license`.
    pub license: Option<String>,
    /// cargo's source (`registry+…`, `git+…`); `None` for a path package.
    pub source: Option<String>,
    /// The packages it depends on, as `name@version`.
    pub dependencies: Vec<String>,
    /// A path package's directory.
    pub dir: Option<PathBuf>,
}

impl BuiltHost {
    /// The crate graph cargo locked for this build, for `resolved.lock`.
    pub fn crates(&self) -> Result<Vec<CratePin>> {
        let text = fs_err::read_to_string(&self.cargo_lock)?;
        Ok(CratePin::from_cargo_lock(&self.cargo_lock, &text)?)
    }
}

/// Keeps errors about a missing cargo readable.
pub fn describe_spawn_error(err: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(err).context("cannot run cargo; is a Rust toolchain installed?")
}
