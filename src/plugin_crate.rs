//! Reads a plugin crate from its directory: name, version, library name, the
//! registration function and its `scope-plugin-api` requirement.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_metadata::{DependencyKind, MetadataCommand, TargetKind};

/// The name of the SDK crate every plugin depends on.
pub const API_CRATE: &str = "scope-plugin-api";

/// A plugin crate on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCrate {
    /// The package name (the plugin's name).
    pub name: String,
    /// The package version.
    pub version: String,
    /// The directory holding its `Cargo.toml`.
    pub dir: PathBuf,
    /// The name of its registration function (`[package.metadata.scope] register`).
    pub register: String,
    /// Its requirement on `scope-plugin-api`.
    pub api_requirement: String,
    /// Plugins it must never be installed with (`[package.metadata.scope] conflicts`).
    pub conflicts: Vec<String>,
    /// Its normal dependencies other than the API: (crate name, requirement).
    pub dependencies: Vec<(String, String)>,
}

impl PluginCrate {
    /// Reads the crate in `dir`; refuses a directory that is not a crate or
    /// whose crate is not a plugin.
    pub fn read(dir: &Path) -> Result<PluginCrate> {
        let dir = fs_err::canonicalize(dir)
            .with_context(|| format!("plugin directory `{}` does not exist", dir.display()))?;
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            bail!(
                "`{}` is not a Rust crate: it has no `Cargo.toml`",
                dir.display()
            );
        }
        let metadata = MetadataCommand::new()
            .manifest_path(&manifest)
            .no_deps()
            .exec()
            .with_context(|| format!("cannot read the crate in `{}`", dir.display()))?;
        let package = metadata
            .packages
            .into_iter()
            .find(|p| p.manifest_path.as_std_path() == manifest)
            .with_context(|| {
                format!(
                    "`{}` is a workspace without a package of its own",
                    manifest.display()
                )
            })?;
        let Some(api) = package
            .dependencies
            .iter()
            .find(|d| d.name == API_CRATE && d.kind == DependencyKind::Normal)
        else {
            bail!(
                "`{}` is not a Scope plugin: it has no dependency on `{API_CRATE}`; a plugin depends on it and registers its pipelines in `register_pipelines`",
                package.name
            );
        };
        if !package
            .targets
            .iter()
            .any(|t| t.kind.contains(&TargetKind::Lib))
        {
            bail!(
                "`{}` is not a Scope plugin: it has no library target",
                package.name
            );
        }
        let register = package.metadata["scope"]["register"]
            .as_str()
            .unwrap_or("register_pipelines")
            .to_owned();
        let valid_ident = register
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && register.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid_ident {
            bail!("`{}` names `{register}` as its registration function, which is not a Rust identifier", package.name);
        }
        let conflicts = match &package.metadata["scope"]["conflicts"] {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => {
                items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            other => bail!(
                "`{}` has `[package.metadata.scope] conflicts = {other}`; it must be a list of plugin names",
                package.name
            ),
        };
        let dependencies = package
            .dependencies
            .iter()
            .filter(|d| d.kind == DependencyKind::Normal && d.name != API_CRATE)
            .map(|d| (d.name.clone(), d.req.to_string()))
            .collect();
        Ok(PluginCrate {
            dependencies,
            conflicts,
            name: package.name.to_string(),
            version: package.version.to_string(),
            dir,
            register,
            api_requirement: api.req.to_string(),
        })
    }
}
