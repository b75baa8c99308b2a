//! Registers every plugin compiled into the host and records what each one
//! contributed or why it failed, so `pipelines`, `self-check` and `run` all
//! see the same picture.

use scope_plugin_api::{PipelineEntry, Registry};

use crate::guard;

/// A plugin compiled into the host. The generated `main.rs` lists them.
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    /// The plugin's crate name.
    pub name: &'static str,
    /// The plugin's version.
    pub version: &'static str,
    /// Its registration function.
    pub register: fn(&mut Registry),
    /// The data files it declared, as `resolved.lock` pinned them.
    pub artifacts: &'static [Artifact],
}

/// A data file a plugin declared (`[package.metadata.scope.artifacts]`),
/// by the SHA-256 scopectl verified; found in the artifact store at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact {
    /// The name the plugin asks for it by.
    pub name: &'static str,
    /// Its SHA-256, hex.
    pub sha256: &'static str,
    /// An archive unpacked into a directory.
    pub unpacked: bool,
}

/// A pipeline type and the plugin it came from.
pub struct Registered {
    /// The plugin's name.
    pub plugin: &'static str,
    /// The plugin's version.
    pub plugin_version: &'static str,
    /// The pipeline type.
    pub entry: PipelineEntry,
    /// The plugin's data files.
    pub artifacts: &'static [Artifact],
}

/// How one plugin's registration went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStatus {
    /// The plugin's name.
    pub name: &'static str,
    /// The plugin's version.
    pub version: &'static str,
    /// Ids of the pipelines it registered.
    pub pipelines: Vec<String>,
    /// What went wrong, if anything.
    pub errors: Vec<String>,
}

/// A pipeline id that more than one plugin registered; the first one keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The id.
    pub id: String,
    /// The plugins that registered it, the one that kept it first.
    pub plugins: Vec<&'static str>,
}

/// Everything the host's plugins registered.
#[derive(Default)]
pub struct Catalog {
    /// The pipelines, in registration order.
    pub pipelines: Vec<Registered>,
    /// One status per plugin.
    pub plugins: Vec<PluginStatus>,
    /// Ids registered by more than one plugin.
    pub duplicates: Vec<Duplicate>,
}

impl Catalog {
    /// Calls every plugin's registration function. A plugin that panics is
    /// skipped (nothing it registered is kept); the rest still load.
    pub fn load(plugins: &[Plugin]) -> Catalog {
        let mut catalog = Catalog::default();
        for plugin in plugins {
            let mut status = PluginStatus {
                name: plugin.name,
                version: plugin.version,
                pipelines: Vec::new(),
                errors: Vec::new(),
            };
            let mut registry = Registry::new();
            match guard::catch(|| (plugin.register)(&mut registry)) {
                Err(panic) => status.errors.push(format!("registration {panic}")),
                Ok(()) => {
                    let (entries, errors) = registry.into_parts();
                    status.errors.extend(errors.iter().map(ToString::to_string));
                    for entry in entries {
                        catalog.add(plugin, entry, &mut status);
                    }
                }
            }
            catalog.plugins.push(status);
        }
        catalog
    }

    fn add(&mut self, plugin: &Plugin, entry: PipelineEntry, status: &mut PluginStatus) {
        let id = entry.config().id().to_owned();
        if let Some(first) = self.find(&id) {
            let owner = first.plugin;
            status.errors.push(format!(
                "pipeline id `{id}` is already registered by plugin `{owner}`"
            ));
            match self.duplicates.iter_mut().find(|d| d.id == id) {
                Some(dup) => dup.plugins.push(plugin.name),
                None => self.duplicates.push(Duplicate {
                    id,
                    plugins: vec![owner, plugin.name],
                }),
            }
            return;
        }
        status.pipelines.push(id);
        self.pipelines.push(Registered {
            plugin: plugin.name,
            plugin_version: plugin.version,
            entry,
            artifacts: plugin.artifacts,
        });
    }

    /// The pipeline with this id.
    pub fn find(&self, id: &str) -> Option<&Registered> {
        self.pipelines.iter().find(|p| p.entry.config().id() == id)
    }

    /// True when every plugin registered without error and no id is taken twice.
    pub fn is_healthy(&self) -> bool {
        self.duplicates.is_empty() && self.plugins.iter().all(|p| p.errors.is_empty())
    }

    /// Every pipeline id, in registration order.
    pub fn ids(&self) -> Vec<&str> {
        self.pipelines
            .iter()
            .map(|p| p.entry.config().id())
            .collect()
    }
}
