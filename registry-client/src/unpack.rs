//! Safe extraction of `.crate` archives (gzip-compressed tar).
//!
//! An archive is extracted into a private temporary directory next to its
//! destination, entry by entry, writing every file ourselves: each entry
//! must lie under `<name>-<version>/`, be a regular file or a directory, and
//! carry no `..` or absolute path; links, devices and duplicate entries are
//! refused, and so is an archive that inflates past a size or entry-count
//! cap. Only a complete, safe extraction gets a completion marker and is
//! renamed into place, so an interrupted one is recognised and redone, and
//! nothing outside the destination is ever touched.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Marks a directory whose extraction finished.
pub const COMPLETE_MARKER: &str = ".scope-unpacked";

/// Entry count cap: far above any real plugin crate.
pub const MAX_ENTRIES: usize = 20_000;
const MIN_SIZE_CAP: u64 = 512 * 1024 * 1024;
const SIZE_CAP_RATIO: u64 = 20;

/// Why an archive was refused or could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry that must not be extracted.
    #[error("refusing to unpack `{archive}`: entry `{entry}` {reason}")]
    Unsafe {
        /// The archive.
        archive: PathBuf,
        /// The entry's path as stored.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The archive exceeds a cap.
    #[error("refusing to unpack `{archive}`: {reason}")]
    TooLarge {
        /// The archive.
        archive: PathBuf,
        /// Which cap.
        reason: String,
    },
    /// Reading the archive or writing a file failed.
    #[error("cannot unpack `{archive}`")]
    Io {
        /// The archive.
        archive: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

/// Extracts `archive` (for crate `name` at `version`) so that its contents
/// end up in `destination` (the archive's `<name>-<version>/` prefix
/// stripped). A destination that is already complete is left as it is.
pub fn unpack_crate(
    archive: &Path,
    name: &str,
    version: &str,
    destination: &Path,
) -> Result<(), UnpackError> {
    let io_err = |source| UnpackError::Io {
        archive: archive.to_owned(),
        source,
    };
    if destination.join(COMPLETE_MARKER).is_file() {
        return Ok(());
    }
    // Left by an interrupted run: start over.
    if destination.exists() {
        fs_err::remove_dir_all(destination).map_err(io_err)?;
    }
    let parent = destination.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(parent).map_err(io_err)?;
    let staging = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(parent)
        .map_err(io_err)?;
    let compressed = fs_err::metadata(archive).map_err(io_err)?.len();
    let cap = MIN_SIZE_CAP.max(compressed.saturating_mul(SIZE_CAP_RATIO));
    extract(archive, &format!("{name}-{version}"), staging.path(), cap)?;
    fs_err::write(staging.path().join(COMPLETE_MARKER), b"").map_err(io_err)?;
    let staged = staging.keep();
    if let Err(err) = fs_err::rename(&staged, destination) {
        let _ = fs_err::remove_dir_all(&staged);
        return Err(io_err(err));
    }
    Ok(())
}

fn extract(archive: &Path, prefix: &str, into: &Path, size_cap: u64) -> Result<(), UnpackError> {
    let io_err = |source| UnpackError::Io {
        archive: archive.to_owned(),
        source,
    };
    let unsafe_entry = |entry: &str, reason: &str| UnpackError::Unsafe {
        archive: archive.to_owned(),
        entry: entry.to_owned(),
        reason: reason.to_owned(),
    };
    let file = fs_err::File::open(archive).map_err(io_err)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut seen = HashSet::new();
    let mut written: u64 = 0;
    for (count, entry) in tar.entries().map_err(io_err)?.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(UnpackError::TooLarge {
                archive: archive.to_owned(),
                reason: format!("it has more than {MAX_ENTRIES} entries"),
            });
        }
        let mut entry = entry.map_err(io_err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let relative =
            safe_relative_path(&raw, prefix).map_err(|reason| unsafe_entry(&raw, &reason))?;
        let is_dir = entry.header().entry_type() == tar::EntryType::Directory;
        // A second file at one path could replace what was checked first.
        if !is_dir && !seen.insert(relative.clone()) {
            return Err(unsafe_entry(&raw, "appears twice in the archive"));
        }
        let target = into.join(&relative);
        match entry.header().entry_type() {
            tar::EntryType::Directory => fs_err::create_dir_all(&target).map_err(io_err)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(dir) = target.parent() {
                    fs_err::create_dir_all(dir).map_err(io_err)?;
                }
                // `create_new`: never write through anything already there.
                let mut out = fs_err::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(io_err)?;
                let remaining = size_cap.saturating_sub(written);
                let copied =
                    io::copy(&mut (&mut entry).take(remaining + 1), &mut out).map_err(io_err)?;
                written += copied;
                if copied > remaining {
                    return Err(UnpackError::TooLarge {
                        archive: archive.to_owned(),
                        reason: format!("it unpacks to more than {} MiB", size_cap / (1024 * 1024)),
                    });
                }
                out.flush().map_err(io_err)?;
                #[cfg(unix)]
                if entry.header().mode().is_ok_and(|m| m & 0o111 != 0) {
                    use std::os::unix::fs::PermissionsExt;
                    let _ =
                        fs_err::set_permissions(&target, std::fs::Permissions::from_mode(0o755));
                }
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(unsafe_entry(
                    &raw,
                    "is a link; crates may contain only files and directories",
                ));
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(unsafe_entry(
                    &raw,
                    &format!("is a {other:?} entry; crates may contain only files and directories"),
                ));
            }
        }
    }
    Ok(())
}

/// The entry's path below the `<name>-<version>/` prefix, or why it is unsafe.
fn safe_relative_path(raw: &str, prefix: &str) -> Result<PathBuf, String> {
    let path = Path::new(raw);
    let mut components = path.components();
    match components.next() {
        Some(Component::Normal(first)) if first == prefix => {}
        Some(Component::RootDir | Component::Prefix(_)) => {
            return Err("has an absolute path".into())
        }
        _ if raw.split(['/', '\\']).any(|part| part == "..") => {
            return Err("leaves the archive's directory with `..`".into())
        }
        _ => return Err(format!("is not under `{prefix}/`")),
    }
    let mut relative = PathBuf::new();
    for component in components {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("leaves the archive's directory with `..`".into()),
            Component::RootDir | Component::Prefix(_) => return Err("has an absolute path".into()),
        }
    }
    if raw.contains('\\') {
        return Err("contains a backslash".into());
    }
    if relative.as_os_str().is_empty() {
        // The prefix directory itself.
        return Ok(PathBuf::from("."));
    }
    if relative.file_name().is_some_and(|n| n == COMPLETE_MARKER) {
        return Err("uses a name reserved for scopectl".into());
    }
    Ok(relative)
}
