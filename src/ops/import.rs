//! `import`: a generation built elsewhere (an OCI layout, a tar of one, or
//! `oci://…`) becomes a generation here, through the same transaction as
//! every change, once every digest is verified, the host is known to run on
//! this machine, and it passed its self-check. No toolchain is needed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::change::Change;
use crate::error::Hinted;
use crate::home::{Home, NewGeneration, Transaction};
use crate::oci::provenance::{glibc_here, parse_version};
use crate::oci::registry::{self, Target};
use crate::oci::{layout, Generation};
use crate::policy::Policy;
use crate::reporter::Reporter;
use crate::settings::Settings;

/// What an import did.
pub enum Imported {
    /// The same generation is already active.
    Unchanged(u64),
    /// A new generation, from the artifact with this digest.
    Committed { generation: u64, digest: String },
}

pub fn import(
    home: &Home,
    settings: &Settings,
    reporter: &dyn Reporter,
    source: &str,
    verify: &[PathBuf],
) -> Result<Imported> {
    // `--verify` keys, and the policy's when it requires a signature.
    let mut trusted = verify.to_vec();
    if let Some(policy) = Policy::find(home.root(), settings.policy.as_deref())? {
        trusted.extend(policy.import_keys()?.unwrap_or_default().iter().cloned());
    }
    let keys = crate::signing::read_public_keys(&trusted)?;
    reporter.status("Reading", source);
    let generation = if source.starts_with("oci://") {
        registry::pull(&Target::parse(source)?, &settings.oci, &keys)?
    } else {
        let path = settings.working_dir.join(source);
        if !path.exists() {
            return Err(not_found(source, &path));
        }
        layout::read(&path, &keys)?
    };
    if let Some(verified) = &generation.signed_by {
        reporter.status(
            "Verified",
            &format!("{} signed by {}", verified.digest, verified.key),
        );
    }
    runs_here(&generation)?;
    for name in &generation.provenance.not_rebuildable {
        reporter.warn(&format!(
            "`{name}` is a path plugin of the machine that built this generation: it runs here, but `sync` cannot rebuild it from source"
        ));
    }
    // Under the lock: whether it is already active, the staging (which a
    // transaction's recovery removes if this one is interrupted), the probe
    // and the commit.
    let transaction = Transaction::begin(home, settings.lock_timeout, reporter)?;
    if let Some(n) = home.current() {
        let dir = home.generation_dir(n);
        let same =
            |file: &str, bytes: &[u8]| fs_err::read(dir.join(file)).is_ok_and(|b| b == bytes);
        if same(crate::home::HOST_BINARY, &generation.host)
            && same("plugins.toml", generation.plugins_toml.as_bytes())
            && same("resolved.lock", generation.resolved_lock.as_bytes())
        {
            return Ok(Imported::Unchanged(n));
        }
    }
    // Its plugins' artifacts, in this machine's store: those it carries,
    // verified; the others fetched from where its lock says they came from.
    let _store = artifacts(home, settings, reporter, &generation)?;
    // The host runs its self-check before anything is committed.
    let staging = tempfile::Builder::new()
        .prefix(".staging-import-")
        .tempdir_in(home.root())?;
    let host = staging.path().join(crate::home::HOST_BINARY);
    write_executable(&host, &generation.host)?;
    crate::ops::probe::probe(&host)?;
    let n = transaction.commit(&NewGeneration {
        host: &host,
        plugins_toml: &generation.plugins_toml,
        resolved_lock: &generation.resolved_lock,
        command: settings.command_line.clone(),
        changes: vec![Change::Imported {
            generation: generation.provenance.generation,
            source: source.to_string(),
            digest: generation.digest.clone(),
        }],
        fingerprints: Default::default(),
    })?;
    drop(transaction);
    Ok(Imported::Committed {
        generation: n,
        digest: generation.digest,
    })
}

/// Stores the artifacts `generation` carries and fetches the ones its lock
/// pins that it does not; the store's lock, to hold until the commit.
fn artifacts(
    home: &Home,
    settings: &Settings,
    reporter: &dyn Reporter,
    generation: &Generation,
) -> Result<Option<crate::artifacts::StoreLock>> {
    let lock =
        scope_lockfile::Lockfile::parse(Path::new("resolved.lock"), &generation.resolved_lock)?;
    if lock.artifacts.is_empty() {
        return Ok(None);
    }
    let store = crate::artifacts::Store::of(settings)?;
    let mut wanted = Vec::new();
    for pin in &lock.artifacts {
        let declared = crate::artifacts::Declared::from(pin);
        if let Some((_, bytes)) = generation
            .artifacts
            .iter()
            .find(|(hex, _)| *hex == pin.sha256)
        {
            store.put(&declared, bytes)?;
        }
        wanted.push(crate::artifacts::Wanted {
            plugin: pin.plugin.clone(),
            declared,
        });
    }
    let (_, held) = store.provide(home.root(), &wanted, settings, reporter)?;
    Ok(Some(held))
}

/// Refuses a host built for another target, or needing a newer glibc.
fn runs_here(generation: &Generation) -> Result<()> {
    let provenance = &generation.provenance;
    let here = env!("SCOPE_TARGET");
    if provenance.target != here {
        bail!(Hinted::new(
            format!(
                "this generation's host is built for {}, and this machine is {here}",
                provenance.target
            ),
            format!("export it from a machine of target {here}, or build it here from its lock: `scopectl sync --locked`"),
        ));
    }
    if let (Some(needed), Some(have)) = (&provenance.glibc, glibc_here()) {
        if parse_version(needed) > parse_version(&have) {
            bail!(Hinted::new(
                format!("this generation's host needs glibc {needed}, and this machine has glibc {have}"),
                "build it on a machine with an older glibc (the oldest the fleet runs), or build it here from its lock",
            ));
        }
    }
    Ok(())
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<()> {
    fs_err::write(path, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// An import source that is neither `oci://…` nor a file here; one that
/// reads as a registry reference (`host:5000/repo:tag`) is pointed to the
/// scheme.
fn not_found(source: &str, path: &Path) -> anyhow::Error {
    let first = source.split('/').next().unwrap_or_default();
    let registry_like = source.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost")
        && source
            .parse::<crate::oci::distribution::Reference>()
            .is_ok();
    if registry_like {
        return Hinted::new(
            format!("`{source}` is not a file or directory here"),
            format!("to import from an OCI registry, write the scheme: `scopectl import oci://{source}`"),
        )
        .into();
    }
    Hinted::new(
        format!("no file or directory `{}`", path.display()),
        "give `oci://REGISTRY/REPOSITORY:TAG`, a tar written by `scopectl export --output`, or a layout directory",
    )
    .into()
}
