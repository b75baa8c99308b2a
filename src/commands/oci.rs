//! `export`, `push`, `import`, `verify` and `key generate`: generations as
//! OCI artifacts, signed in cosign's format.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};

use super::Context;
use crate::cli::CarryArtifacts;
use crate::error::Hinted;
use crate::oci::registry::{self, Target};
use crate::oci::{layout, Artifact};
use crate::ops::import::{import as import_generation, Imported};
use crate::signing::{self, cosign};

/// Generation `generation` as an artifact (its SBOM with the licences of
/// the active build), and the key that signs it when `sign` names one.
fn artifact(
    context: &Context,
    generation: Option<u64>,
    sign: Option<&Path>,
    carry: CarryArtifacts,
) -> Result<(Artifact, Option<signing::SigningKey>)> {
    let home = context.existing_home()?;
    let password = context.settings.oci.key_password.as_deref();
    let key = sign
        .map(|key| signing::open_signing_key(key, password))
        .transpose()?;
    let licences = crate::ops::sbom::licences(&home, &context.settings, generation);
    let store = match carry {
        CarryArtifacts::Include => Some(crate::artifacts::Store::of(&context.settings)?),
        CarryArtifacts::Reference => None,
    };
    let artifact =
        Artifact::of_generation(&home, generation, &licences, key.as_ref(), store.as_ref())?;
    Ok((artifact, key))
}

pub fn export(
    context: &Context,
    generation: Option<u64>,
    output: Option<PathBuf>,
    oci_layout: Option<PathBuf>,
    tag: &str,
    sign: Option<&Path>,
    carry: CarryArtifacts,
) -> Result<ExitCode> {
    let (artifact, key) = artifact(context, generation, sign, carry)?;
    let signature = key
        .map(|key| cosign::sign(&key, tag, &artifact.digest()))
        .transpose()?;
    let written = match (output, oci_layout) {
        (Some(file), _) => {
            layout::write_tar(&file, &artifact, tag, signature.as_ref())?;
            file
        }
        (None, Some(dir)) => {
            layout::write(&dir, &artifact, tag, signature.as_ref())?;
            dir
        }
        (None, None) => unreachable!("clap requires one"),
    };
    context.printer.status(
        "Exported",
        format!("{} to {}", artifact.digest(), written.display()),
    );
    if let Some(key) = sign {
        context
            .printer
            .status("Signed", format!("with {}", key.display()));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn push(
    context: &Context,
    reference: &str,
    generation: Option<u64>,
    sign: Option<&Path>,
    carry: CarryArtifacts,
) -> Result<ExitCode> {
    let target = Target::parse(reference)?;
    let (artifact, key) = artifact(context, generation, sign, carry)?;
    context.printer.status("Pushing", reference);
    let pushed = registry::push(&target, &artifact, &context.settings.oci, key.as_ref())?;
    let digest = pushed.digest;
    if !pushed.reused.is_empty() {
        let bytes: u64 = pushed.reused.iter().sum();
        context.printer.status(
            "Reused",
            format!(
                "{} blob(s) the registry already had ({}), not sent again",
                pushed.reused.len(),
                crate::artifacts::store::megabytes(bytes)
            ),
        );
    }
    context
        .printer
        .status("Pushed", format!("{reference}@{digest}"));
    if let Some(key) = sign {
        context.printer.status(
            "Signed",
            format!(
                "with {} at {}:{}",
                key.display(),
                target.repository(),
                cosign::signature_tag(&digest)
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(context: &Context, source: &str, verify: &[PathBuf]) -> Result<ExitCode> {
    let home = context.home()?;
    match import_generation(&home, &context.settings, &context.printer, source, verify)? {
        Imported::Unchanged(n) => context
            .printer
            .status("Fresh", format!("generation {n} is this artifact already")),
        Imported::Committed { generation, digest } => context.printer.status(
            "Activated",
            format!("generation {generation} (imported {digest})"),
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(context: &Context, target: &str, keys: &[PathBuf], json: bool) -> Result<ExitCode> {
    let policy_keys = match keys.is_empty() {
        true => crate::policy::Policy::find(
            context.settings.home.root.as_path(),
            context.settings.policy.as_deref(),
        )?
        .map(|p| p.keys)
        .unwrap_or_default(),
        false => Vec::new(),
    };
    let keys = if keys.is_empty() { &policy_keys } else { keys };
    if keys.is_empty() {
        bail!(Hinted::new(
            "no key to verify with",
            "give `--key KEY.pub` (repeatable), or list keys under [imports] in policy.toml",
        ));
    }
    let keys = signing::read_public_keys(keys)?;
    let verified = if target.starts_with("oci://") {
        registry::verify_signature(&Target::parse(target)?, &context.settings.oci, &keys)
    } else {
        layout::verify_signature(&context.settings.working_dir.join(target), &keys)
    };
    let tried: Vec<String> = keys.iter().map(|k| k.path.display().to_string()).collect();
    match (verified, json) {
        (Ok(verified), false) => {
            context.printer.status(
                "Verified",
                format!("{} signed by {}", verified.digest, verified.key),
            );
            Ok(ExitCode::SUCCESS)
        }
        (Ok(verified), true) => {
            let document = serde_json::json!({
                "version": 1,
                "target": target,
                "verified": true,
                "digest": verified.digest,
                "key": verified.key,
                "keys_tried": tried,
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), false) => Err(e),
        (Err(e), true) => {
            let parts = crate::error::ErrorParts::of(&e);
            let document = serde_json::json!({
                "version": 1,
                "target": target,
                "verified": false,
                "error": parts,
                "keys_tried": tried,
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn generate_key(context: &Context, prefix: &Path) -> Result<ExitCode> {
    let prefix = context.settings.working_dir.join(prefix);
    let private = prefix.with_extension("key");
    let public = prefix.with_extension("pub");
    for path in [&private, &public] {
        if path.exists() {
            bail!(Hinted::new(
                format!("{} exists; a key is never overwritten", path.display()),
                "give another `--output PREFIX`, or move the old key away first",
            ));
        }
    }
    let given = context.settings.oci.key_password.as_deref();
    let password = signing::key::password(given, "the new key", true)?;
    let pair = signing::key::generate(&password)?;
    write_private(&private, &pair.private_pem)?;
    fs_err::write(&public, &pair.public_pem)?;
    context
        .printer
        .status("Wrote", format!("private key {}", private.display()));
    context
        .printer
        .status("Wrote", format!("public key {}", public.display()));
    Ok(ExitCode::SUCCESS)
}

/// The private key, readable by its owner only from the start.
fn write_private(path: &Path, pem: &str) -> Result<()> {
    use fs_err::os::unix::fs::OpenOptionsExt as _;
    use std::io::Write as _;
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(pem.as_bytes())?;
    Ok(())
}

pub fn sbom(context: &Context, generation: Option<u64>, output: Option<&Path>) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let document = crate::ops::sbom::sbom(&home, &context.settings, generation)?;
    let text = serde_json::to_string_pretty(&document)? + "\n";
    match output {
        Some(file) => {
            let file = context.settings.working_dir.join(file);
            fs_err::write(&file, text)?;
            context
                .printer
                .status("Wrote", format!("the SBOM to {}", file.display()));
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
