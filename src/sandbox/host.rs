//! The host sandbox: `scopectl run` and `serve` start every host under
//! Landlock (files and TCP) and a seccomp filter, with `no_new_privs`,
//! limited to the union of what its plugins were granted. It is applied
//! when the host starts, so plugins' registration and `load` (reading
//! model files) run under the same grants as their frames; the host
//! itself keeps what it needs: the system's libraries and configuration,
//! read-only access to the home, its instance's run directory (control
//! socket, last words), `/proc`, `/dev/null` and the files its arguments
//! name. The sandbox is in the supervisor, not in `scope-host`, so hosts
//! compile no extra crate; a host started by hand runs unsandboxed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Result};
use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr,
};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};

use super::{Enforced, TARGET_ABI};
use crate::capability::Capability;
use crate::error::Hinted;
use crate::policy::Sandbox;

/// The files a host needs besides its grants.
pub struct HostPaths {
    /// The host binary.
    pub binary: PathBuf,
    /// Read-only: the home (generations, artifacts) and input files.
    pub read: Vec<PathBuf>,
    /// Read-write: the instance's run directory, output files.
    pub write: Vec<PathBuf>,
}

/// System calls no plugin needs; refused with EPERM.
const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_bpf,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_setns,
    libc::SYS_unshare,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_userfaultfd,
    libc::SYS_perf_event_open,
];

/// Readable by every host: libraries, configuration, the kernel's views.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/etc",
    "/proc",
    "/sys",
    "/dev/urandom",
];
/// Executable by every host: the dynamic loader and libraries.
const SYSTEM_EXECUTE: &[&str] = &["/lib", "/lib64", "/usr/lib", "/usr/lib64"];
/// Executable with `exec`: the programs.
const PROGRAMS: &[&str] = &["/usr", "/bin", "/sbin", "/opt"];
/// The GPU's device nodes, with `gpu`.
const GPU: &[&str] = &[
    "/dev/dri",
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia0",
];

/// Makes `command` (a host) start sandboxed to `grants`, as `mode` says.
pub fn sandbox_host(
    command: &mut Command,
    grants: &[Capability],
    paths: HostPaths,
    mode: Sandbox,
    unsupported: bool,
) -> Result<Enforced> {
    if mode == Sandbox::Off {
        return Ok(Enforced::Off);
    }
    let prepared = ruleset(grants, &paths, unsupported).and_then(|ruleset| {
        let filter = SeccompFilter::new(
            DENIED
                .iter()
                .map(|s| (*s, Vec::new()))
                .collect::<BTreeMap<_, _>>(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            std::env::consts::ARCH
                .try_into()
                .map_err(|e| format!("seccomp: {e:?}"))?,
        )
        .map_err(|e| format!("seccomp: {e}"))?;
        let program: BpfProgram = filter.try_into().map_err(|e| format!("seccomp: {e:?}"))?;
        Ok((ruleset, program))
    });
    let (ruleset, program) = match prepared {
        Ok(prepared) => prepared,
        Err(why) if mode == Sandbox::Required => bail!(Hinted::new(
            format!("the host sandbox is required, and this kernel cannot enforce it: {why}"),
            "run on a kernel with Landlock (Linux 6.7 or newer) and seccomp, or set `sandbox = \"best-effort\"` in policy.toml (or `--sandbox best-effort`)",
        )),
        Err(why) => return Ok(Enforced::EnvironmentOnly(why)),
    };
    super::restrict_at_exec(command, ruleset, Some(program));
    Ok(Enforced::Landlock)
}

fn ruleset(
    grants: &[Capability],
    paths: &HostPaths,
    unsupported: bool,
) -> Result<RulesetCreated, String> {
    if unsupported {
        return Err("Landlock is not available (SCOPE_SANDBOX_UNSUPPORTED is set)".into());
    }
    let abi = TARGET_ABI;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let all = AccessFs::from_all(abi);
    let mut readable: Vec<PathBuf> = SYSTEM_READ.iter().map(PathBuf::from).collect();
    readable.extend(paths.read.iter().cloned());
    let mut executable: Vec<PathBuf> = SYSTEM_EXECUTE.iter().map(PathBuf::from).collect();
    executable.push(paths.binary.clone());
    let mut writable: Vec<PathBuf> = vec![PathBuf::from("/dev/null")];
    writable.extend(paths.write.iter().cloned());
    let mut ports: Vec<(u16, AccessNet)> = Vec::new();
    let mut any_connect = false;
    for grant in grants {
        match grant {
            Capability::Read(path) => readable.push(path.clone()),
            Capability::Write(path) => writable.push(path.clone()),
            Capability::Exec => executable.extend(PROGRAMS.iter().map(PathBuf::from)),
            Capability::Gpu => writable.extend(GPU.iter().map(PathBuf::from)),
            Capability::Connect(Some(port)) => ports.push((*port, AccessNet::ConnectTcp)),
            Capability::Connect(None) => any_connect = true,
            Capability::Listen(port) => ports.push((*port, AccessNet::BindTcp)),
        }
    }
    // Any outbound port: connecting is left unhandled (allowed).
    let net = if any_connect {
        AccessNet::BindTcp.into()
    } else {
        AccessNet::from_all(abi)
    };
    let ports = ports
        .into_iter()
        .filter(|(_, access)| net.contains(*access))
        .map(|(port, access)| Ok(NetPort::new(port, access)));
    Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(all)
        .and_then(|r| r.handle_access(net))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&readable, read)))
        .and_then(|r| r.add_rules(path_beneath_rules(&executable, read | AccessFs::Execute)))
        .and_then(|r| r.add_rules(path_beneath_rules(&writable, all)))
        .and_then(|r| r.add_rules(ports))
        .map_err(|e| e.to_string())
}
