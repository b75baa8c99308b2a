//! Reads a plugin crate from its directory: name, version, library name, the
//! registration function and its `scope-plugin-api` requirement.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_metadata::{DependencyKind, MetadataCommand, TargetKind};

use scope_name::{PluginName, API_CRATE};

use crate::capability::Capability;

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
    /// What it asks to be allowed (`[package.metadata.scope] capabilities`).
    pub capabilities: Vec<Capability>,
    /// Its normal dependencies other than the API: (crate name, requirement).
    pub dependencies: Vec<(String, String)>,
    /// Dependencies from a registry other than the default one, as a
    /// published crate names them: (crate name, index URL).
    pub registry_dependencies: Vec<(String, String)>,
    /// Its data files (`[package.metadata.scope.artifacts]`).
    pub artifacts: Vec<crate::artifacts::Declared>,
}

impl PluginCrate {
    /// A fingerprint of the crate's sources as they are now: every file
    /// under its directory except build output (`target/`) and hidden
    /// entries (`.git`), by path and content. An editable plugin whose
    /// fingerprint differs from the one its generation was built with has
    /// been edited since.
    pub fn fingerprint(&self) -> Result<String> {
        use sha2::{Digest, Sha256};
        let mut files = Vec::new();
        let mut pending = vec![self.dir.clone()];
        while let Some(dir) = pending.pop() {
            for entry in fs_err::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || (dir == self.dir && name == "target") {
                    continue;
                }
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push(entry.path());
                } else if kind.is_file() {
                    files.push(entry.path());
                }
            }
        }
        files.sort();
        let mut hasher = Sha256::new();
        for file in files {
            let relative = file.strip_prefix(&self.dir).unwrap_or(&file);
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update([0]);
            let contents = fs_err::read(&file)?;
            hasher.update((contents.len() as u64).to_le_bytes());
            hasher.update(&contents);
        }
        Ok(scope_registry_client::registry::hex(&hasher.finalize()))
    }

    /// The plugin's name: its crate's name, checked.
    pub fn plugin_name(&self) -> Result<PluginName> {
        Ok(PluginName::new(&self.name)?)
    }

    /// Reads the crate in `dir`; refuses a directory that is not a crate or
    /// whose crate is not a plugin.
    pub fn read(dir: &Path) -> Result<PluginCrate> {
        // One message for one problem: not fs-err's own beneath it.
        let dir = fs_err::canonicalize(dir)
            .map_err(|_| anyhow::anyhow!("plugin directory `{}` does not exist", dir.display()))?;
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            bail!(
                "`{}` is not a Rust crate: it has no `Cargo.toml`",
                dir.display()
            );
        }
        // Most plugin manifests say everything plainly; reading them
        // directly saves a `cargo metadata` run (tens of milliseconds).
        let text = fs_err::read_to_string(&manifest)?;
        if let Some(plain) = read_plain(&dir, &text) {
            return plain;
        }
        PluginCrate::read_with_cargo(&dir)
    }

    /// Reads the crate in `dir` (canonical) through `cargo metadata`, which
    /// understands every manifest, workspace inheritance included.
    pub fn read_with_cargo(dir: &Path) -> Result<PluginCrate> {
        let dir = dir.to_owned();
        let manifest = dir.join("Cargo.toml");
        let metadata =
            crate::cancel::metadata(MetadataCommand::new().manifest_path(&manifest).no_deps())
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
            return Err(not_a_plugin(&package.name));
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
        let normal = || {
            package
                .dependencies
                .iter()
                .filter(|d| d.kind == DependencyKind::Normal)
        };
        let dependencies = normal()
            .filter(|d| d.name != API_CRATE)
            .map(|d| (d.name.clone(), d.req.to_string()))
            .collect();
        let mut plugin = finish(
            &dir,
            package.name.to_string(),
            package.version.to_string(),
            api.req.to_string(),
            &package.metadata,
            dependencies,
        )?;
        plugin.registry_dependencies = normal()
            .filter_map(|d| Some((d.name.clone(), d.registry.clone()?)))
            .collect();
        Ok(plugin)
    }
}

/// The plugin described by `manifest` (a `Cargo.toml`'s text), when it
/// needs nothing from cargo: no workspace inheritance and no
/// target-specific dependencies. `None` sends the caller to `cargo metadata`.
fn read_plain(dir: &Path, manifest: &str) -> Option<Result<PluginCrate>> {
    let doc: toml_edit::DocumentMut = manifest.parse().ok()?;
    if manifest.contains("workspace = true")
        || manifest.contains(".workspace")
        || doc.get("target").is_some()
    {
        return None;
    }
    let package = doc.get("package")?.as_table_like()?;
    let name = package.get("name")?.as_str()?.to_owned();
    let version = package.get("version")?.as_str()?.to_owned();
    let has_lib = doc.get("lib").is_some() || dir.join("src/lib.rs").is_file();
    let mut api = None;
    let mut dependencies = Vec::new();
    if let Some(deps) = doc.get("dependencies").and_then(|d| d.as_table_like()) {
        for (key, item) in deps.iter() {
            let (crate_name, req) = match item.as_str() {
                Some(req) => (key.to_owned(), req.to_owned()),
                None => {
                    let table = item.as_table_like()?;
                    // Another registry: cargo knows its URL.
                    if table.contains_key("registry") || table.contains_key("registry-index") {
                        return None;
                    }
                    let crate_name = table
                        .get("package")
                        .and_then(|p| p.as_str())
                        .unwrap_or(key)
                        .to_owned();
                    let req = table
                        .get("version")
                        .and_then(|v| v.as_str())
                        .unwrap_or("*")
                        .to_owned();
                    (crate_name, req)
                }
            };
            // `cargo metadata` spells requirements in full (`^0.1`); so do we.
            let req = semver::VersionReq::parse(&req)
                .map(|r| r.to_string())
                .unwrap_or(req);
            if crate_name == API_CRATE {
                api = Some(req);
            } else {
                dependencies.push((crate_name, req));
            }
        }
    }
    let Some(api) = api else {
        return Some(Err(not_a_plugin(&name)));
    };
    if !has_lib {
        return Some(Err(anyhow::anyhow!(
            "`{name}` is not a Scope plugin: it has no library target"
        )));
    }
    let metadata = package
        .get("metadata")
        .map(|m| toml_to_json(m.clone()))
        .unwrap_or_default();
    let metadata =
        serde_json::json!({ "scope": metadata.get("scope").cloned().unwrap_or_default() });
    Some(finish(dir, name, version, api, &metadata, dependencies))
}

fn toml_to_json(item: toml_edit::Item) -> serde_json::Value {
    match item {
        toml_edit::Item::Value(value) => value_to_json(value),
        toml_edit::Item::Table(table) => serde_json::Value::Object(
            table
                .into_iter()
                .map(|(k, v)| (k.to_string(), toml_to_json(v)))
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

fn value_to_json(value: toml_edit::Value) -> serde_json::Value {
    match value {
        toml_edit::Value::String(s) => serde_json::Value::String(s.into_value()),
        toml_edit::Value::Integer(i) => serde_json::Value::from(i.into_value()),
        toml_edit::Value::Boolean(b) => serde_json::Value::Bool(b.into_value()),
        toml_edit::Value::Float(f) => serde_json::Value::from(f.into_value()),
        toml_edit::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(value_to_json).collect())
        }
        toml_edit::Value::InlineTable(t) => serde_json::Value::Object(
            t.into_iter()
                .map(|(k, v)| (k.to_string(), value_to_json(v)))
                .collect(),
        ),
        toml_edit::Value::Datetime(d) => serde_json::Value::String(d.into_value().to_string()),
    }
}

fn not_a_plugin(name: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`{name}` is not a Scope plugin: it has no dependency on `{API_CRATE}`; a plugin depends on it and registers its pipelines in `register_pipelines`"
    )
}

/// The checks and metadata common to both ways of reading a manifest.
fn finish(
    dir: &Path,
    name: String,
    version: String,
    api_requirement: String,
    metadata: &serde_json::Value,
    dependencies: Vec<(String, String)>,
) -> Result<PluginCrate> {
    let register = metadata["scope"]["register"]
        .as_str()
        .unwrap_or("register_pipelines")
        .to_owned();
    let valid_ident = register
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && register.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid_ident {
        bail!("`{name}` names `{register}` as its registration function, which is not a Rust identifier");
    }
    let conflicts = match &metadata["scope"]["conflicts"] {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        }
        other => bail!("`{name}` has `[package.metadata.scope] conflicts = {other}`; it must be a list of plugin names"),
    };
    let capabilities = match &metadata["scope"]["capabilities"] {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .context("a capability is a string")?
                    .parse::<Capability>()
                    .map_err(anyhow::Error::from)
            })
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("`{name}` declares a capability scopectl does not know (`[package.metadata.scope] capabilities`)"))?,
        other => bail!("`{name}` has `[package.metadata.scope] capabilities = {other}`; it must be a list of capabilities"),
    };
    let artifacts = crate::artifacts::parse(&name, dir, metadata)?;
    Ok(PluginCrate {
        artifacts,
        dir: dir.to_owned(),
        name,
        version,
        register,
        api_requirement,
        conflicts,
        capabilities,
        dependencies,
        registry_dependencies: Vec::new(),
    })
}
