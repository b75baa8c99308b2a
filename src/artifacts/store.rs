//! The artifact store: one content-addressed directory in the user's cache
//! (`$SCOPE_CACHE_DIR/artifacts`, else `$XDG_CACHE_HOME/scope/artifacts`,
//! else `~/.cache/scope/artifacts`) shared by every home, plugin and
//! generation.
//!
//! ```text
//! sha256/<hex>      verified files, read-only
//! unpacked/<hex>/   verified archives, unpacked, read-only
//! partial/<hex>     a download in progress: resumed with `Range`, never
//!                   mistaken for a whole file (it moves to sha256/ only
//!                   once its size and SHA-256 match)
//! roots/<id>.toml   a home that uses the store (as Nix's gc roots): its
//!                   generations' `resolved.lock`s say what it pins
//! ```

use std::collections::BTreeSet;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use scope_registry_client::http::{Http, HttpError, Limit, Reporter as TransferReporter, Sink};

use super::Declared;
use crate::reporter::{Progress, Reporter};
use crate::settings::Settings;

/// Fetches at a time.
const PARALLEL: usize = 4;

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// The store's lock (`artifacts/.lock`): a change holds it shared from
/// the moment its artifacts are in the store until its generation is
/// committed (until then no generation pins them), `gc` holds it exclusively
/// while it deletes. Released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    _file: fs_err::File,
}

/// An artifact a plugin wants.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub plugin: String,
    pub declared: Declared,
}

/// Where a wanted artifact came from.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub plugin: String,
    pub declared: Declared,
    /// The URL its bytes came from (the declared one when it was already
    /// in the store).
    pub url: String,
}

impl Store {
    /// The store of these settings' user cache.
    pub fn of(settings: &Settings) -> Result<Store> {
        let cache = settings
            .cache_dir
            .as_ref()
            .context("cannot tell where the user cache is (no HOME): set SCOPE_CACHE_DIR")?;
        Ok(Store {
            root: cache.join("artifacts"),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the store's lock: shared to add and use, exclusive to delete;
    /// says so when it has to wait for another command.
    pub fn hold(&self, exclusive: bool, reporter: &dyn Reporter) -> Result<StoreLock> {
        fs_err::create_dir_all(&self.root)?;
        let path = self.root.join(".lock");
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        let tried = match exclusive {
            true => file.file().try_lock(),
            false => file.file().try_lock_shared(),
        };
        let cannot = || format!("cannot lock {}", path.display());
        match tried {
            Ok(()) => return Ok(StoreLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => reporter.blocking(&format!(
                "Blocking: waiting for the artifact store ({}): another command is {}",
                self.root.display(),
                if exclusive {
                    "using it"
                } else {
                    "collecting it (gc)"
                }
            )),
            Err(std::fs::TryLockError::Error(err)) => return Err(err).with_context(cannot),
        }
        let taken = match exclusive {
            true => file.file().lock(),
            false => file.file().lock_shared(),
        };
        taken.with_context(cannot)?;
        Ok(StoreLock { _file: file })
    }

    /// Where a verified artifact lies (as the host looks for it).
    pub fn path(&self, declared: &Declared) -> PathBuf {
        match declared.unpack {
            true => self.root.join("unpacked").join(&declared.sha256),
            false => self.blob(&declared.sha256),
        }
    }

    fn blob(&self, sha256: &str) -> PathBuf {
        self.root.join("sha256").join(sha256)
    }

    /// Whether the artifact is in the store, verified.
    pub fn has(&self, declared: &Declared) -> bool {
        self.path(declared).exists()
    }

    /// Makes every wanted artifact present: those missing are fetched (at
    /// most [`PARALLEL`] at a time), verified and stored. Offline, a missing
    /// one is an error naming every one that is missing.
    pub fn ensure(
        &self,
        wanted: &[Wanted],
        settings: &Settings,
        reporter: &dyn Reporter,
    ) -> Result<Vec<Fetched>> {
        let missing: Vec<&Wanted> = wanted.iter().filter(|w| !self.has(&w.declared)).collect();
        if !missing.is_empty() && settings.offline {
            let names: Vec<String> = missing
                .iter()
                .map(|w| {
                    format!(
                        "`{}` of {} (sha256 {})",
                        w.declared.name, w.plugin, w.declared.sha256
                    )
                })
                .collect();
            bail!(crate::error::Hinted::new(
                format!(
                    "offline, and the artifact store ({}) lacks {}",
                    self.root.display(),
                    names.join(", ")
                ),
                "run `scopectl fetch` where there is a network (or copy the store's sha256/ files over)",
            ));
        }
        let mut urls = std::collections::BTreeMap::new();
        if !missing.is_empty() {
            let total: u64 = missing.iter().map(|w| w.declared.size).sum();
            reporter.status(
                "Fetching",
                &format!("{} artifact(s), {}", missing.len(), megabytes(total)),
            );
            let retries = Arc::new(Mutex::new(Vec::new()));
            let transfers = Arc::new(Transfers {
                bytes: reporter.progress("Fetching", Some(total)),
                retries: retries.clone(),
            });
            let http = Http::new(settings.http, transfers.clone())?;
            let mirror = settings.artifact_mirror.clone();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let results = runtime.block_on(async {
                let slots = tokio::sync::Semaphore::new(PARALLEL);
                let (slots, http) = (&slots, &http);
                let mirror = mirror.as_deref();
                let fetches = missing.iter().map(|w| async move {
                    let _slot = slots.acquire().await;
                    (w, self.fetch(w, http, mirror).await)
                });
                futures_util::future::join_all(fetches).await
            });
            transfers.bytes.finish();
            for line in retries.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                reporter.warn(&line);
            }
            let mut errors = Vec::new();
            for (w, result) in results {
                match result {
                    Ok(url) => {
                        urls.insert((w.plugin.clone(), w.declared.name.clone()), url);
                    }
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            if !errors.is_empty() {
                bail!(errors.join("\n"));
            }
        }
        Ok(wanted
            .iter()
            .map(|w| Fetched {
                plugin: w.plugin.clone(),
                declared: w.declared.clone(),
                url: urls
                    .remove(&(w.plugin.clone(), w.declared.name.clone()))
                    .unwrap_or_else(|| w.declared.url.clone()),
            })
            .collect())
    }

    /// Fetches one artifact from its first source that gives the right
    /// bytes; returns that source.
    async fn fetch(&self, wanted: &Wanted, http: &Http, mirror: Option<&str>) -> Result<String> {
        let declared = &wanted.declared;
        let what = format!("artifact `{}` of plugin `{}`", declared.name, wanted.plugin);
        let mut sources = Vec::new();
        if let Some(mirror) = mirror {
            sources.push(format!(
                "{}/{}",
                mirror.trim_end_matches('/'),
                declared.sha256
            ));
        }
        sources.push(declared.url.clone());
        sources.extend(declared.mirrors.iter().cloned());
        let mut failures = Vec::new();
        for url in sources {
            match self.fetch_from(&url, declared, http).await {
                Ok(()) => return Ok(url),
                Err(e) => failures.push(format!("{url}: {e:#}")),
            }
        }
        bail!(
            "{what} could not be fetched (nothing was kept):\n  {}",
            failures.join("\n  ")
        )
    }

    async fn fetch_from(&self, url: &str, declared: &Declared, http: &Http) -> Result<()> {
        let partial = self.root.join("partial").join(&declared.sha256);
        fs_err::create_dir_all(partial.parent().expect("in partial/"))?;
        let verified = if let Some(path) = url.strip_prefix("file://") {
            // A local file: copied whole (nothing to resume).
            fs_err::copy(path, &partial)?;
            verify(&partial, declared)
        } else {
            check_scheme(url)?;
            let mut sink = PartialFile::open(&partial, declared.size)?;
            if sink.len < declared.size {
                // A little over the declared size: a server whose
                // Content-Length is a little off is retried (the body breaks
                // off, the rest is asked for); one that sends more fails
                // the size check.
                let limit = Limit {
                    bytes: declared.size + 4096,
                    what: "an artifact (more than its declared size)",
                };
                let answer = http
                    .get_into(url, &[], None, &mut sink, limit)
                    .await
                    .map_err(|e: HttpError| anyhow::anyhow!(e))?;
                if !answer.status.is_success() {
                    bail!("the server answered {}", answer.status);
                }
            }
            let (size, sha256) = sink.finish()?;
            matches(declared, size, &sha256)
        };
        if verified.is_err() {
            // A partial that is not these bytes is of no use to a resume.
            let _ = fs_err::remove_file(&partial);
        }
        verified?;
        self.keep(&partial, declared)
    }

    /// Moves verified bytes into place (and unpacks an archive).
    fn keep(&self, partial: &Path, declared: &Declared) -> Result<()> {
        set_read_only(partial)?;
        let blob = self.blob(&declared.sha256);
        fs_err::create_dir_all(blob.parent().expect("in sha256/"))?;
        fs_err::rename(partial, &blob)?;
        if declared.unpack {
            let target = self.path(declared);
            let staging = target.with_extension("unpacking");
            let _ = fs_err::remove_dir_all(&staging);
            fs_err::create_dir_all(&staging)?;
            let file = fs_err::File::open(&blob)?;
            tar::Archive::new(flate2::read::GzDecoder::new(file))
                .unpack(&staging)
                .with_context(|| format!("artifact `{}` is not a tar.gz archive", declared.name))?;
            read_only_tree(&staging)?;
            fs_err::rename(&staging, &target)?;
        }
        Ok(())
    }

    /// For a change of the home at `home`: takes the store's lock (shared),
    /// makes every wanted artifact present ([`Store::ensure`]) and registers
    /// the home, so that `gc` keeps what its generations will pin. Hold the
    /// lock until the generation is committed.
    pub fn provide(
        &self,
        home: &Path,
        wanted: &[Wanted],
        settings: &Settings,
        reporter: &dyn Reporter,
    ) -> Result<(Vec<Fetched>, StoreLock)> {
        let lock = self.hold(false, reporter)?;
        let fetched = self.ensure(wanted, settings, reporter)?;
        self.register_home(home)?;
        Ok((fetched, lock))
    }

    /// Stores bytes that arrived otherwise (an imported generation's
    /// layer), verified as a download is.
    pub fn put(&self, declared: &Declared, bytes: &[u8]) -> Result<()> {
        if self.has(declared) {
            return Ok(());
        }
        let partial = self.root.join("partial").join(&declared.sha256);
        fs_err::create_dir_all(partial.parent().expect("in partial/"))?;
        fs_err::write(&partial, bytes)?;
        if let Err(e) = verify(&partial, declared) {
            let _ = fs_err::remove_file(&partial);
            return Err(e);
        }
        self.keep(&partial, declared)
    }

    /// Records that the home at `home` uses the store, so that `gc` keeps
    /// what its generations pin.
    pub fn register_home(&self, home: &Path) -> Result<()> {
        use sha2::{Digest, Sha256};
        let home = fs_err::canonicalize(home)?;
        let id = Sha256::digest(home.as_os_str().as_encoded_bytes());
        let id = scope_registry_client::registry::hex(&id[..8]);
        let path = self.root.join("roots").join(format!("{id}.toml"));
        if path.exists() {
            return Ok(());
        }
        fs_err::create_dir_all(path.parent().expect("in roots/"))?;
        let text = format!(
            "# A home whose generations pin artifacts of this store.\nhome = {}\n",
            toml_edit::Value::from(home.to_string_lossy().as_ref())
        );
        crate::fsx::write_atomic(&path, text.as_bytes())
    }

    /// The homes registered, and the root files naming them.
    pub fn homes(&self) -> Vec<(PathBuf, PathBuf)> {
        let Ok(entries) = fs_err::read_dir(self.root.join("roots")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let text = fs_err::read_to_string(entry.path()).ok()?;
                let doc: toml_edit::DocumentMut = text.parse().ok()?;
                let home = PathBuf::from(doc.get("home")?.as_str()?);
                Some((home, entry.path()))
            })
            .collect()
    }

    /// Frees every blob no pin in `pinned` (SHA-256s) keeps, and every
    /// partial download; returns (artifacts freed, bytes freed).
    pub fn collect(&self, pinned: &BTreeSet<String>) -> Result<(usize, u64)> {
        let (mut count, mut bytes) = (0, 0);
        for dir in ["sha256", "unpacked"] {
            let Ok(entries) = fs_err::read_dir(self.root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if pinned.contains(&name) {
                    continue;
                }
                let path = entry.path();
                let size = crate::fsx::tree_size(&path);
                make_writable(&path);
                if path.is_dir() {
                    fs_err::remove_dir_all(&path)?;
                } else {
                    fs_err::remove_file(&path)?;
                }
                if dir == "sha256" {
                    count += 1;
                }
                bytes += size;
            }
        }
        let _ = fs_err::remove_dir_all(self.root.join("partial"));
        Ok((count, bytes))
    }
}

/// `12.3 MB`.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Plain `http://` only on loopback, as for registries.
fn check_scheme(url: &str) -> Result<()> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if scope_registry_client::http::is_loopback(host) {
            return Ok(());
        }
        bail!("plain http:// is accepted only on this machine (loopback); use https://");
    }
    bail!("not a URL scopectl fetches from: use https://, file:// or a path")
}

/// Checks that `path` holds the declared bytes.
fn verify(path: &Path, declared: &Declared) -> Result<()> {
    let size = fs_err::metadata(path)?.len();
    if size != declared.size {
        return matches(declared, size, "");
    }
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut file = fs_err::File::open(path)?;
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        context.update(&buffer[..n]);
    }
    let got = scope_registry_client::registry::hex(context.finish().as_ref());
    matches(declared, size, &got)
}

/// Whether `size` bytes hashing to `sha256` are the declared artifact.
fn matches(declared: &Declared, size: u64, sha256: &str) -> Result<()> {
    if size != declared.size {
        bail!(
            "artifact `{}`: {size} bytes arrived, but {} are declared",
            declared.name,
            declared.size
        );
    }
    if sha256 != declared.sha256 {
        bail!(
            "artifact `{}` has sha256 {sha256}, but the plugin declares {}",
            declared.name,
            declared.sha256
        );
    }
    Ok(())
}

#[cfg(unix)]
fn set_read_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o555 } else { 0o444 };
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

#[cfg(not(unix))]
fn set_read_only(path: &Path) -> Result<()> {
    let mut permissions = fs_err::metadata(path)?.permissions();
    permissions.set_readonly(true);
    fs_err::set_permissions(path, permissions)?;
    Ok(())
}

/// Files and directories below `dir` (and `dir`) become read-only.
fn read_only_tree(dir: &Path) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            read_only_tree(&path)?;
        } else {
            set_read_only(&path)?;
        }
    }
    set_read_only(dir)
}

/// Lets a read-only tree be removed.
fn make_writable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        let _ = fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    if path.is_dir() {
        for entry in fs_err::read_dir(path).into_iter().flatten().flatten() {
            make_writable(&entry.path());
        }
    }
}

/// A download written to `partial/<hex>`, resumable. Two threads of its
/// own write and hash what arrives, side by side (so a gigabyte is neither
/// read back to be verified nor hashed on the thread that receives it);
/// both are handed the connection's own buffers, never a copy.
struct PartialFile {
    /// Chunks received, not yet handed on.
    pending: Vec<Bytes>,
    /// Their length.
    pending_len: usize,
    len: u64,
    workers: Option<Workers>,
}

/// The writer and the hasher, and how to reach them.
struct Workers {
    to_writer: std::sync::mpsc::SyncSender<Piece>,
    to_hasher: std::sync::mpsc::SyncSender<Piece>,
    writer: std::thread::JoinHandle<std::io::Result<()>>,
    hasher: std::thread::JoinHandle<String>,
}

/// What the writer and the hasher are given.
#[derive(Clone)]
enum Piece {
    Chunks(Arc<[Bytes]>),
    /// Start again from nothing.
    Reset,
}

/// Bytes handed on at a time (about).
const PIECE: usize = 1 << 20;

impl PartialFile {
    /// Opens the partial file, hashing what an earlier fetch left in it.
    fn open(path: &Path, size: u64) -> Result<PartialFile> {
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?
            .into_parts()
            .0;
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let mut len = file.metadata()?.len();
        if len > size {
            file.set_len(0)?;
            len = 0;
        }
        let mut buffer = vec![0; 1 << 20];
        let mut read = 0;
        while read < len {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hash.update(&buffer[..n]);
            read += n as u64;
        }
        file.seek(std::io::SeekFrom::Start(read))?;
        file.set_len(read)?;
        let (to_writer, pieces) = std::sync::mpsc::sync_channel::<Piece>(16);
        let writer = std::thread::spawn(move || {
            for piece in pieces {
                match piece {
                    Piece::Chunks(chunks) => write_chunks(&mut file, &chunks)?,
                    Piece::Reset => {
                        file.set_len(0)?;
                        file.seek(std::io::SeekFrom::Start(0))?;
                    }
                }
            }
            Ok(())
        });
        let (to_hasher, pieces) = std::sync::mpsc::sync_channel::<Piece>(16);
        let hasher = std::thread::spawn(move || {
            for piece in pieces {
                match piece {
                    Piece::Chunks(chunks) => chunks.iter().for_each(|c| hash.update(c)),
                    Piece::Reset => hash = ring::digest::Context::new(&ring::digest::SHA256),
                }
            }
            scope_registry_client::registry::hex(hash.finish().as_ref())
        });
        Ok(PartialFile {
            pending: Vec::new(),
            pending_len: 0,
            len: read,
            workers: Some(Workers {
                to_writer,
                to_hasher,
                writer,
                hasher,
            }),
        })
    }

    fn send(&mut self, piece: Piece) -> std::io::Result<()> {
        let gone = || std::io::Error::other("the writer of the download stopped");
        let workers = self.workers.as_ref().ok_or_else(gone)?;
        workers.to_hasher.send(piece.clone()).map_err(|_| gone())?;
        workers.to_writer.send(piece).map_err(|_| gone())
    }

    fn flush_pending(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunks = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        self.send(Piece::Chunks(chunks.into()))
    }

    /// Everything received reaches the file; its length and SHA-256 (hex).
    fn finish(mut self) -> Result<(u64, String)> {
        self.flush_pending()?;
        let workers = self.workers.take().expect("finished once");
        let sha256 = workers.stop()?;
        Ok((self.len, sha256))
    }
}

impl Workers {
    /// Waits for both: the SHA-256 of what was written.
    fn stop(self) -> Result<String> {
        drop(self.to_writer);
        drop(self.to_hasher);
        let panicked = || anyhow::anyhow!("a thread of the download panicked");
        self.writer.join().map_err(|_| panicked())??;
        self.hasher.join().map_err(|_| panicked())
    }
}

impl Drop for PartialFile {
    /// What arrived stays in the partial file, for the next fetch to resume.
    fn drop(&mut self) {
        let _ = self.flush_pending();
        if let Some(workers) = self.workers.take() {
            let _ = workers.stop();
        }
    }
}

impl Sink for PartialFile {
    fn reset(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        self.pending_len = 0;
        self.len = 0;
        self.send(Piece::Reset)
    }

    fn write(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.len += chunk.len() as u64;
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= PIECE {
            self.flush_pending()?;
        }
        Ok(())
    }

    fn resume_from(&self) -> u64 {
        self.len
    }
}

/// Writes every chunk, in order, a few system calls for many chunks.
fn write_chunks(file: &mut std::fs::File, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<std::io::IoSlice> =
        chunks.iter().map(|c| std::io::IoSlice::new(c)).collect();
    let mut left = &mut slices[..];
    while !left.is_empty() {
        match file.write_vectored(left) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut left, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bytes as they arrive; retries, said once the fetch is over.
struct Transfers {
    bytes: Box<dyn Progress>,
    retries: Arc<Mutex<Vec<String>>>,
}

impl TransferReporter for Transfers {
    fn downloaded(&self, bytes: u64) {
        self.bytes.inc(bytes);
    }

    fn retrying(&self, url: &str, why: &str, wait: std::time::Duration, attempts_left: u32) {
        self.retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!(
                "{url}: {why}; retried after {:.1} s ({attempts_left} attempt(s) were left)",
                wait.as_secs_f64()
            ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(bytes: &[u8], unpack: bool) -> Declared {
        Declared {
            name: "luts".into(),
            url: "file:///nowhere".into(),
            mirrors: Vec::new(),
            sha256: scope_registry_client::registry::hex(
                ring::digest::digest(&ring::digest::SHA256, bytes).as_ref(),
            ),
            size: bytes.len() as u64,
            unpack,
        }
    }

    /// A tar.gz with `cube/red.txt`.
    fn archive() -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "cube/red.txt", &b"red"[..])
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn an_archive_is_verified_then_unpacked_read_only_and_collected_when_unpinned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            root: dir.path().join("artifacts"),
        };
        let bytes = archive();
        let luts = declared(&bytes, true);
        store.put(&luts, &bytes).unwrap();
        let unpacked = store.path(&luts);
        assert_eq!(
            fs_err::read_to_string(unpacked.join("cube/red.txt")).unwrap(),
            "red"
        );
        assert!(fs_err::metadata(unpacked.join("cube/red.txt"))
            .unwrap()
            .permissions()
            .readonly());
        // Kept while pinned, freed (archive and directory) when not.
        let pinned = BTreeSet::from([luts.sha256.clone()]);
        assert_eq!(store.collect(&pinned).unwrap().0, 0);
        assert!(unpacked.exists());
        assert_eq!(store.collect(&BTreeSet::new()).unwrap().0, 1);
        assert!(!unpacked.exists() && !store.blob(&luts.sha256).exists());
    }

    #[test]
    fn bytes_that_are_not_the_declared_ones_are_refused_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            root: dir.path().join("artifacts"),
        };
        let luts = declared(b"the real bytes", false);
        let err = store.put(&luts, b"other bytes!!!").unwrap_err().to_string();
        assert!(err.contains("but the plugin declares"), "{err}");
        assert!(!store.has(&luts));
        assert!(!store.root.join("partial").join(&luts.sha256).exists());
    }
}
