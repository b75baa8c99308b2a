//! The registries a change reads: the default one (cargo's) and those
//! named under `[registries]` in `plugins.toml`, created on first use,
//! sharing one HTTP client and one async runtime.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use scope_registry_client::http::{Http, HttpSettings, Reporter};
use scope_registry_client::registry::Registry;
use scope_registry_client::unpack::unpack_crate;
use tame_index::IndexKrate;

use crate::printer::Printer;

/// The default registry's name in `resolved.lock`.
pub const DEFAULT_REGISTRY: &str = "crates-io";

/// Retry warnings, bytes as they arrive, finished downloads: through the printer.
struct PrinterReporter {
    printer: Printer,
    bytes: indicatif::ProgressBar,
}

impl Reporter for PrinterReporter {
    fn downloaded(&self, bytes: u64) {
        self.bytes.inc(bytes);
    }

    fn retrying(&self, url: &str, why: &str, wait: Duration, attempts_left: u32) {
        self.printer.warn(format!(
            "{url}: {why}; retrying in {:.1} s ({attempts_left} attempt(s) left)",
            wait.as_secs_f64()
        ));
    }

    fn finished(&self, name: &str) {
        self.bytes.finish_and_clear();
        self.bytes.reset();
        self.printer.status("Downloaded", name);
    }
}

/// The registries of one command.
pub struct Registries {
    cache: PathBuf,
    named: BTreeMap<String, String>,
    offline: bool,
    printer: Printer,
    open: RefCell<BTreeMap<String, Arc<Registry>>>,
    runtime: RefCell<Option<(tokio::runtime::Runtime, Arc<Http>)>>,
}

impl Registries {
    /// The registries of a home: `named` maps names to index URLs.
    pub fn new(
        cache: &Path,
        named: BTreeMap<String, String>,
        offline: bool,
        printer: &Printer,
    ) -> Registries {
        Registries {
            cache: cache.to_owned(),
            named,
            offline,
            printer: printer.clone(),
            open: RefCell::default(),
            runtime: RefCell::default(),
        }
    }

    /// The printer status lines go to.
    pub fn printer(&self) -> &Printer {
        &self.printer
    }

    fn with_runtime<T>(
        &self,
        f: impl FnOnce(&tokio::runtime::Runtime, &Arc<Http>) -> T,
    ) -> Result<T> {
        if self.runtime.borrow().is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let reporter = Arc::new(PrinterReporter {
                printer: self.printer.clone(),
                bytes: self.printer.bytes("Fetching"),
            });
            let http = Arc::new(Http::new(HttpSettings::from_env()?, reporter)?);
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
        let cache = self.cache.join(&key);
        let url = match name {
            None => None,
            Some(name) => Some(self.named.get(name).cloned().with_context(|| {
                format!("registry `{name}` is not defined: add `[registries.{name}] index = \"sparse+https://…\"` to plugins.toml")
            })?),
        };
        let registry = self.with_runtime(|_, http| match (name, url) {
            (Some(name), Some(url)) => {
                Registry::new(name, &url, &cache, http.clone(), self.offline)
            }
            _ => Registry::default_registry(&cache, http.clone(), self.offline),
        })??;
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
        let downloads = self.cache.join(registry).join("downloads");
        let archive = self.with_runtime(|runtime, _| {
            runtime.block_on(open.download(name, version, checksum, &downloads))
        })??;
        crate::transaction::failpoint("after-download");
        let short = checksum.get(..16).unwrap_or(checksum);
        let dir = self
            .cache
            .join("src")
            .join(format!("{name}-{version}-{short}"));
        unpack_crate(&archive, name, version, &dir)?;
        Ok(dir)
    }
}
