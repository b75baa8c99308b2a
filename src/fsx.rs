//! Writing files safely. State files are replaced atomically: written to a
//! temporary file in the same directory, synced, renamed over the old one,
//! and the directory synced, so a crash leaves either the old or the new
//! content, never a mix.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces `path` with `contents` atomically.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    // A new file gets the usual permissions, not the temporary file's
    // owner-only ones; a replaced file keeps its own.
    let permissions = match fs_err::metadata(path) {
        Ok(meta) => meta.permissions(),
        Err(_) => default_permissions(),
    };
    replace(path, contents, Some(permissions), Durable::Yes)
}

/// Replaces a file that means nothing once the process that wrote it is
/// gone (a pid file): atomically, without waiting for the disk (a sync
/// cost a supervised stream ~2 ms of its start).
pub fn write_run_state(path: &Path, contents: &[u8]) -> Result<()> {
    replace(path, contents, Some(default_permissions()), Durable::No)
}

/// Whether [`replace`] waits for the file to reach the disk.
#[derive(PartialEq)]
enum Durable {
    Yes,
    No,
}

/// Writes `path` readable by its owner only (a secret), atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    // The temporary file is created owner-only, and keeps that when renamed.
    replace(path, contents, None, Durable::Yes)
}

fn replace(
    path: &Path,
    contents: &[u8],
    permissions: Option<std::fs::Permissions>,
    durable: Durable,
) -> Result<()> {
    let dir = path.parent().context("a file path has a parent")?;
    fs_err::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    temp.write_all(contents)
        .and_then(|()| match permissions {
            Some(permissions) => temp.as_file().set_permissions(permissions),
            None => Ok(()),
        })
        .and_then(|()| match durable {
            Durable::Yes => temp.as_file().sync_all(),
            Durable::No => Ok(()),
        })
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot replace `{}`", path.display()))?;
    if durable == Durable::Yes {
        sync_dir(dir);
    }
    Ok(())
}

/// Writes `path` only when its content differs, keeping the modification
/// time of unchanged files (cargo rebuilds what looks modified).
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<()> {
    if fs_err::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    write_atomic(path, contents)
}

/// Whether two files hold the same bytes (a missing `a` holds none).
pub fn same_contents(a: &Path, b: &Path) -> Result<bool> {
    use std::io::Read;
    let (Ok(meta_a), meta_b) = (fs_err::metadata(a), fs_err::metadata(b)?) else {
        return Ok(false);
    };
    if meta_a.len() != meta_b.len() {
        return Ok(false);
    }
    let (mut file_a, mut file_b) = (fs_err::File::open(a)?, fs_err::File::open(b)?);
    let (mut chunk_a, mut chunk_b) = (vec![0; 1 << 16], vec![0; 1 << 16]);
    loop {
        let n = file_a.read(&mut chunk_a)?;
        if n == 0 {
            return Ok(true);
        }
        file_b.read_exact(&mut chunk_b[..n])?;
        if chunk_a[..n] != chunk_b[..n] {
            return Ok(false);
        }
    }
}

/// Points the symlink `link` at `target`, replacing it atomically.
pub fn symlink_atomic(target: &Path, link: &Path) -> Result<()> {
    let dir = link.parent().context("a link path has a parent")?;
    fs_err::create_dir_all(dir)?;
    let name = link
        .file_name()
        .context("a link has a name")?
        .to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs_err::remove_file(&temp);
    symlink(target, &temp)
        .with_context(|| format!("cannot create a link in `{}`", dir.display()))?;
    fs_err::rename(&temp, link)?;
    sync_dir(dir);
    Ok(())
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn default_permissions() -> std::fs::Permissions {
    let mut permissions = fs_err::metadata(".")
        .expect("the working directory exists")
        .permissions();
    permissions.set_readonly(false);
    permissions
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

/// Flushes `path`'s bytes to the disk.
pub fn sync_file(path: &Path) -> Result<()> {
    fs_err::File::open(path)?
        .sync_all()
        .with_context(|| format!("cannot sync `{}` to the disk", path.display()))
}

/// Flushes `dir`'s entries (a rename, a new file) to the disk.
pub fn sync_dir(dir: &Path) {
    // Best effort: not every platform lets a directory be opened and synced.
    if let Ok(handle) = fs_err::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Bytes of a file, or of every file below a directory (symbolic links are
/// not followed); what cannot be read counts 0.
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs_err::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs_err::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| tree_size(&entry.path()))
        .sum()
}
