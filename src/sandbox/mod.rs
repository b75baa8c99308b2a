//! The build sandbox: the cargo build of a host compiles code from plugins
//! (their `build.rs` and proc macros run as the user), so it runs after
//! every source is fetched, offline, with an environment scrubbed to an
//! allow-list, under Landlock: it may read the toolchain, cargo's caches,
//! the system's libraries and headers and the plugins' sources; write only
//! the build and target directories and the temporary directory; and open
//! no TCP connection. Landlock is inherited by every process cargo starts.
//! The host's sandbox is in [`host`].

pub mod host;

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Result};
use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, ABI,
};

use crate::error::Hinted;
use crate::policy::Sandbox;

/// The environment variables a build keeps; every other one (tokens,
/// `AWS_*`, `SSH_AUTH_SOCK`, `GITHUB_*`, registry credentials…) is removed.
pub const BUILD_ENVIRONMENT: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TZ",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "RUSTDOC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_JOBS",
    "CARGO_INCREMENTAL",
    "CARGO_TERM_COLOR",
    "CC",
    "CXX",
    "AR",
    "CFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "PKG_CONFIG",
    "PKG_CONFIG_PATH",
    "PKG_CONFIG_SYSROOT_DIR",
    "SCCACHE_DIR",
    "SCCACHE_CACHE_SIZE",
    "SOURCE_DATE_EPOCH",
];

/// Where a sandboxed build may read and write.
pub struct BuildPaths {
    pub read: Vec<PathBuf>,
    pub write: Vec<PathBuf>,
}

impl BuildPaths {
    /// `read` and `write`, with what every cargo run needs: the toolchain
    /// and cargo's home (read; the registry sources, which cargo unpacks
    /// while it builds, and its locks, written), and above each of
    /// `crates` the manifests and `.cargo` directories of its ancestors,
    /// where cargo looks for a workspace and configuration.
    pub fn around(
        settings: &crate::settings::BuildSettings,
        crates: &[&std::path::Path],
        mut read: Vec<PathBuf>,
        mut write: Vec<PathBuf>,
    ) -> BuildPaths {
        for dir in crates {
            for ancestor in dir.ancestors().skip(1) {
                read.push(ancestor.join("Cargo.toml"));
                read.push(ancestor.join(".cargo"));
            }
        }
        read.extend(settings.rustup_home.iter().cloned());
        read.extend(settings.cargo_home.iter().cloned());
        if let Some(cargo_home) = &settings.cargo_home {
            for inside in [
                "registry",
                "git",
                ".package-cache",
                ".package-cache-mutate",
                ".global-cache",
            ] {
                write.push(cargo_home.join(inside));
            }
        }
        BuildPaths { read, write }
    }
}

/// The Landlock ABI the rules are written for: filesystem rights up to
/// truncation and device ioctls, and TCP (ABI 4).
pub(crate) const TARGET_ABI: ABI = ABI::V5;

/// Readable by every build: the system's programs, libraries, headers and
/// configuration, and the kernel's views cargo and compilers consult.
const SYSTEM_READ: &[&str] = &[
    "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys", "/dev",
    "/nix",
];

/// Writable by every build (temporary files go to a directory of the
/// build's own: `TMPDIR`).
const SYSTEM_WRITE: &[&str] = &["/dev/null", "/dev/tty"];

/// Prepares `command` (a cargo build) to run scrubbed and sandboxed, as
/// `mode` says. `environment` holds the allow-listed variables' values
/// (settings read them); `unsupported` simulates a kernel without
/// Landlock (a test switch). Returns what is enforced, for the report.
pub fn sandbox_build(
    command: &mut Command,
    environment: &[(String, OsString)],
    paths: BuildPaths,
    mode: Sandbox,
    unsupported: bool,
) -> Result<Enforced> {
    if mode == Sandbox::Off {
        return Ok(Enforced::Off);
    }
    command.env_clear();
    command.envs(environment.iter().map(|(k, v)| (k, v)));
    let ruleset = match ruleset(&paths, unsupported) {
        Ok(ruleset) => ruleset,
        Err(why) if mode == Sandbox::Required => bail!(Hinted::new(
            format!("the build sandbox is required, and this kernel cannot enforce it: {why}"),
            "run on a kernel with Landlock (Linux 6.7 or newer, `lsm=landlock` enabled), or set `sandbox = \"best-effort\"` in policy.toml (or `--sandbox best-effort`)",
        )),
        Err(why) => return Ok(Enforced::EnvironmentOnly(why)),
    };
    restrict_at_exec(command, ruleset, None);
    Ok(Enforced::Landlock)
}

/// Makes the child of `command` restrict itself to `ruleset` (and, given
/// one, the seccomp `program`) between fork and exec.
pub(crate) fn restrict_at_exec(
    command: &mut Command,
    ruleset: RulesetCreated,
    program: Option<seccompiler::BpfProgram>,
) {
    let mut ruleset = Some(ruleset);
    // SAFETY: between fork and exec the child makes system calls only
    // (prctl, landlock_restrict_self, seccomp) with a descriptor and a
    // program prepared before the fork; it allocates nothing on success.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            if let Some(ruleset) = ruleset.take() {
                ruleset
                    .restrict_self()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            if let Some(program) = &program {
                seccompiler::apply_filter(program)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            Ok(())
        });
    }
}

/// What a build ran under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforced {
    /// Landlock, no network, a scrubbed environment.
    Landlock,
    /// Only the scrubbed environment (best-effort, without Landlock).
    EnvironmentOnly(String),
    /// Nothing (`sandbox = "off"`).
    Off,
}

/// The kernel's Landlock ABI version; `None` without Landlock.
pub fn landlock_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_ulong = 1;
    // SAFETY: asks for the ABI version: no pointer is read or written.
    #[allow(unsafe_code)]
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (version > 0).then_some(version)
}

/// What `doctor` says of the sandbox on this kernel (`mode` as configured).
pub fn report(mode: Sandbox, unsupported: bool) -> Result<String, String> {
    let abi = if unsupported { None } else { landlock_abi() };
    match (mode, abi) {
        (Sandbox::Off, _) => Ok("sandbox: off (builds and hosts run with your rights)".into()),
        (_, Some(abi)) if abi >= 4 => Ok(format!(
            "sandbox: enforced (Landlock ABI {abi}: files and TCP; seccomp; scrubbed build environment)"
        )),
        (Sandbox::Required, abi) => Err(format!(
            "sandbox: required, and this kernel cannot enforce it (Landlock ABI {}; TCP rules need 4, Linux 6.7)",
            abi.map_or("none".into(), |a| a.to_string())
        )),
        (Sandbox::BestEffort, abi) => Ok(format!(
            "sandbox: best-effort, not enforced here (Landlock ABI {}; TCP rules need 4, Linux 6.7): only the build environment is scrubbed",
            abi.map_or("none".into(), |a| a.to_string())
        )),
    }
}

fn ruleset(paths: &BuildPaths, unsupported: bool) -> Result<RulesetCreated, String> {
    if unsupported {
        return Err("Landlock is not available (SCOPE_SANDBOX_UNSUPPORTED is set)".into());
    }
    let abi = TARGET_ABI;
    let system_read = SYSTEM_READ.iter().map(PathBuf::from);
    let system_write = SYSTEM_WRITE.iter().map(PathBuf::from);
    let read: Vec<PathBuf> = system_read.chain(paths.read.iter().cloned()).collect();
    let write: Vec<PathBuf> = system_write.chain(paths.write.iter().cloned()).collect();
    let made = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&read, AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(&write, AccessFs::from_all(abi))));
    made.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_secret_is_kept() {
        for kept in super::BUILD_ENVIRONMENT {
            for secret in ["TOKEN", "AWS", "SSH", "GITHUB", "PASSWORD", "SECRET"] {
                assert!(!kept.contains(secret), "{kept}");
            }
        }
    }
}
