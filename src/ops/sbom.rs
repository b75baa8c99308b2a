//! The SBOM of a generation, and the licences it names.

use anyhow::{bail, Result};
use serde_json::Value;

use crate::error::Hinted;
use crate::home::Home;
use crate::host_build::HostBuilder;
use crate::oci::sbom::{cyclonedx, Licences};
use crate::settings::Settings;

/// The licences cargo declares for the packages of the active host,
/// read offline from its last build here; empty when there is none (an
/// imported generation) or `generation` is not the active one.
pub fn licences(home: &Home, settings: &Settings, generation: Option<u64>) -> Licences {
    if generation.is_some_and(|n| Some(n) != home.current()) {
        return Licences::new();
    }
    let mut build = settings.build.clone();
    build.offline = true;
    let builder = HostBuilder::new(&home.build_dir(), &build);
    builder
        .packages_of_last_build()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| Some(((p.name, p.version), p.license?)))
        .collect()
}

/// The CycloneDX document of generation `n` (the active one by default).
pub fn sbom(home: &Home, settings: &Settings, generation: Option<u64>) -> Result<Value> {
    let Some(n) = generation.or_else(|| home.current()) else {
        bail!(Hinted::new(
            format!("no generation is active in {}", home.root().display()),
            "install a plugin first, or name one with --generation N",
        ));
    };
    let info = home.generation(n)?;
    let path = home.generation_dir(n).join("resolved.lock");
    let lock = scope_lockfile::Lockfile::parse(&path, &fs_err::read_to_string(&path)?)?;
    let licences = licences(home, settings, Some(n));
    Ok(cyclonedx(&lock, &licences, &info.created))
}
