//! Signed generations: keys and signatures in cosign's formats ([`key`],
//! [`cosign`]), so that a fleet trusts what a known key signed and
//! operators can use the registries and verifiers they already run.

pub mod cosign;
pub mod key;

use std::path::PathBuf;

use anyhow::Result;

pub use cosign::Verified;
pub use key::{PublicKey, SigningKey};

/// Opens the private key at `path`, asking for its password when
/// `SCOPE_KEY_PASSWORD` is not set.
pub fn open_signing_key(path: &std::path::Path, password: Option<&str>) -> Result<SigningKey> {
    let password = key::password(password, &path.display().to_string(), false)?;
    SigningKey::open(path, &password)
}

/// Reads every public key in `paths`.
pub fn read_public_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths.iter().map(|p| PublicKey::read(p)).collect()
}
