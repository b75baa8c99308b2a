//! The registries a change reads: the default one (cargo's) and those
//! named under `[registries]` in `plugins.toml`, created on first use,
//! sharing one HTTP client and one async runtime.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use scope_registry_client::http::{Http, Reporter as TransferReporter};
use scope_registry_client::registry::Registry;
use scope_registry_client::unpack::unpack_crate;
use tame_index::IndexKrate;

use crate::home::CacheBucket;
use crate::reporter::{Progress, Reporter};
use crate::settings::Settings;

/// The default registry's name in `resolved.lock`.
pub const DEFAULT_REGISTRY: &str = "crates-io";

/// Retry warnings, bytes as they arrive, finished downloads: to the reporter.
struct Transfers {
    reporter: Arc<dyn Reporter>,
    bytes: Box<dyn Progress>,
}

impl TransferReporter for Transfers {
    fn downloaded(&self, bytes: u64) {
        self.bytes.inc(bytes);
    }

    fn retrying(&self, url: &str, why: &str, wait: Duration, attempts_left: u32) {
        self.reporter.warn(&format!(
            "{url}: {why}; retrying in {:.1} s ({attempts_left} attempt(s) left)",
            wait.as_secs_f64()
        ));
    }

    fn finished(&self, name: &str) {
        self.bytes.finish();
        self.reporter.status("Downloaded", name);
    }
}

/// The registries of one command.
pub struct Registries {
    cache: PathBuf,
    named: BTreeMap<String, String>,
    settings: Settings,
    reporter: Arc<dyn Reporter>,
    open: RefCell<BTreeMap<String, Arc<Registry>>>,
    runtime: RefCell<Option<(tokio::runtime::Runtime, Arc<Http>)>>,
}

impl Registries {
    /// The registries of a home whose cache is `cache`: `named` maps names
    /// to index URLs.
    pub fn new(
        cache: &Path,
        named: BTreeMap<String, String>,
        settings: &Settings,
        reporter: Arc<dyn Reporter>,
    ) -> Registries {
        Registries {
            cache: cache.to_owned(),
            named,
            settings: settings.clone(),
            reporter,
            open: RefCell::default(),
            runtime: RefCell::default(),
        }
    }

    fn with_runtime<T>(
        &self,
        f: impl FnOnce(&tokio::runtime::Runtime, &Arc<Http>) -> T,
    ) -> Result<T> {
        if self.runtime.borrow().is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let transfers = Arc::new(Transfers {
                reporter: self.reporter.clone(),
                bytes: self.reporter.progress("Fetching", None),
            });
            let http = Arc::new(Http::new(self.settings.http, transfers)?);
            *self.runtime.borrow_mut() = Some((runtime, http));
        }
        let guard = self.runtime.borrow();
        let (runtime, http) = guard.as_ref().expect("set above");
        Ok(f(runtime, http))
    }

    /// The registry called `name` (`None`: the default one).
    fn registry(&self, name: Option<&str>) -> Result<Arc<Registry>> {
        let key = name.unwrap_or(DEFAULT_REGISTRY).to_owned();
        if let Some(open) = self.open.borrow().get(&key) {
            return Ok(open.clone());
        }
        let cache = CacheBucket::Registry.path_in(&self.cache).join(&key);
        let url = match name {
            None => None,
            Some(name) => Some(self.named.get(name).cloned().with_context(|| {
                format!("registry `{name}` is not defined: add `[registries.{name}] index = \"sparse+https://…\"` to plugins.toml")
            })?),
        };
        let offline = self.settings.offline;
        let registry = self.with_runtime(|_, http| match (name, url) {
            (Some(name), Some(url)) => Registry::new(name, &url, &cache, http.clone(), offline),
            _ => Registry::default_registry(&cache, http.clone(), offline),
        })??;
        let registry = registry.with_token(self.settings.registry_token(&key));
        let registry = Arc::new(registry);
        self.open.borrow_mut().insert(key, registry.clone());
        Ok(registry)
    }

    /// The index entries of `names` and of every plugin they depend on.
    pub fn collect(
        &self,
        registry: Option<&str>,
        names: &[String],
    ) -> Result<BTreeMap<String, IndexKrate>> {
        let open = self.registry(registry)?;
        let found = self.with_runtime(|runtime, _| {
            runtime.block_on(scope_registry_client::plugins::collect(&open, names))
        })?;
        Ok(found?)
    }

    /// Downloads, verifies and unpacks `name` `version`; returns its directory.
    pub fn fetch_source(
        &self,
        registry: &str,
        name: &str,
        version: &str,
        checksum: &str,
    ) -> Result<PathBuf> {
        let named = (registry != DEFAULT_REGISTRY).then_some(registry);
        let open = self.registry(named)?;
        let downloads = CacheBucket::downloads(&self.cache, registry);
        let archive = self.with_runtime(|runtime, _| {
            runtime.block_on(open.download(name, version, checksum, &downloads))
        })??;
        crate::failpoint::hit("after-download");
        let dir = CacheBucket::unpacked(&self.cache, name, version, checksum);
        unpack_crate(&archive, name, version, &dir)?;
        Ok(dir)
    }
}
