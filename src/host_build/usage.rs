//! What host builds use in the user cache's shared target directory, so
//! that `gc` can remove what none has used for a while.
//!
//! Cargo names each compiled unit with a hash (`deps/librayon-<hash>.rlib`,
//! `.fingerprint/rayon-<hash>/`, `build/rayon-core-<hash>/`) and never
//! deletes one: every plugin version built leaves its units behind. After
//! a build, the hashes of every unit it used (compiled or found fresh) are
//! written to `scopectl-builds/<digest>.txt`, whose time is the build's. A
//! unit is stale when no record younger than [`KEPT_FOR`] names it and its
//! files are older than that too (units from before records existed).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// How long a unit stays after the last build that used it.
pub const KEPT_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

const RECORDS: &str = "scopectl-builds";
/// The directories of a profile that hold units, named `<name>-<hash>…`.
const UNIT_DIRS: [&str; 3] = ["deps", ".fingerprint", "build"];

/// The hash of the unit a file or directory of a target directory belongs
/// to: the 16 hex digits after the last `-` of its name, before any `.`.
pub fn unit_of(name: &str) -> Option<&str> {
    let stem = name.split('.').next()?;
    let (_, hash) = stem.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
}

/// The units one build used.
#[derive(Default)]
pub struct Used(BTreeSet<String>);

impl Used {
    /// A file cargo reported (an artifact, a build script's `OUT_DIR`): the
    /// unit of its own name or of the directory it is in.
    pub fn note(&mut self, path: &Path) {
        let names = [path.file_name(), path.parent().and_then(Path::file_name)];
        for name in names.into_iter().flatten() {
            if let Some(unit) = name.to_str().and_then(unit_of) {
                self.0.insert(unit.to_owned());
                return;
            }
        }
    }

    /// Writes the record of this build into `target_dir`.
    pub fn record(&self, target_dir: &Path) -> Result<()> {
        let text: String = self.0.iter().map(|unit| format!("{unit}\n")).collect();
        let digest = hex(&Sha256::digest(text.as_bytes())[..8]);
        let dir = target_dir.join(RECORDS);
        fs_err::create_dir_all(&dir)?;
        let temp = dir.join(format!(".{digest}.{}", std::process::id()));
        fs_err::write(&temp, text)?;
        fs_err::rename(&temp, dir.join(format!("{digest}.txt")))?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`prune`] removed.
#[derive(Debug, Default, PartialEq)]
pub struct Pruned {
    /// Files and directories of stale units.
    pub entries: usize,
    pub bytes: u64,
    /// Profiles left alone because a build held them.
    pub busy: Vec<String>,
}

/// Removes from `target_dir` the units no build used within [`KEPT_FOR`]
/// of `now`, and the records older than that. A profile a build is
/// running in (cargo holds its `.cargo-lock`) is left alone.
pub fn prune(target_dir: &Path, now: SystemTime) -> Result<Pruned> {
    let old = |path: &Path| {
        fs_err::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age > KEPT_FOR))
    };
    let mut live = BTreeSet::new();
    let records = target_dir.join(RECORDS);
    for entry in fs_err::read_dir(&records).into_iter().flatten().flatten() {
        let path = entry.path();
        if old(&path) {
            fs_err::remove_file(&path)?;
        } else if let Ok(text) = fs_err::read_to_string(&path) {
            live.extend(text.lines().map(str::to_owned));
        }
    }
    let mut pruned = Pruned::default();
    for profile in fs_err::read_dir(target_dir).into_iter().flatten().flatten() {
        let profile = profile.path();
        if !profile.join(".fingerprint").is_dir() {
            continue;
        }
        let Some(_building) = hold(&profile)? else {
            pruned.busy.push(profile.display().to_string());
            continue;
        };
        for dir in UNIT_DIRS {
            for entry in fs_err::read_dir(profile.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = entry.file_name();
                let Some(unit) = name.to_str().and_then(unit_of) else {
                    continue;
                };
                let path = entry.path();
                if live.contains(unit) || !old(&path) {
                    continue;
                }
                pruned.bytes += crate::fsx::tree_size(&path);
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    fs_err::remove_dir_all(&path)?;
                } else {
                    fs_err::remove_file(&path)?;
                }
                pruned.entries += 1;
            }
        }
    }
    Ok(pruned)
}

/// Cargo's lock of a profile directory, taken without waiting; `None` when
/// a build holds it.
fn hold(profile: &Path) -> Result<Option<fs_err::File>> {
    use rustix::fs::{flock, FlockOperation};
    let path = profile.join(".cargo-lock");
    let file = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot lock `{}`", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef";
    const B: &str = "fedcba9876543210";

    #[test]
    fn a_unit_is_the_hash_in_its_name() {
        assert_eq!(unit_of(&format!("librayon-{A}.rlib")), Some(A));
        assert_eq!(unit_of(&format!("rayon-core-{A}")), Some(A));
        assert_eq!(unit_of(&format!("scope_host-{A}.d")), Some(A));
        assert_eq!(unit_of("librayon-0123.rlib"), None);
        assert_eq!(unit_of(".cargo-lock"), None);
    }

    /// A target directory with units `A` (used by a recorded build) and
    /// `B` (not), every file a year old.
    fn target_with_two_units() -> tempfile::TempDir {
        let target = tempfile::tempdir().unwrap();
        let profile = target.path().join("release");
        for unit in [A, B] {
            let fingerprint = profile.join(format!(".fingerprint/rayon-{unit}"));
            fs_err::create_dir_all(&fingerprint).unwrap();
            fs_err::write(fingerprint.join("lib-rayon"), "x").unwrap();
            fs_err::create_dir_all(profile.join("deps")).unwrap();
            fs_err::write(profile.join(format!("deps/librayon-{unit}.rlib")), "rlib").unwrap();
        }
        let mut used = Used::default();
        used.note(&profile.join(format!("deps/librayon-{A}.rlib")));
        used.record(target.path()).unwrap();
        target
    }

    fn year_on() -> SystemTime {
        SystemTime::now() + Duration::from_secs(365 * 24 * 3600)
    }

    #[test]
    fn units_no_recent_build_used_go_and_the_rest_stay() {
        let target = target_with_two_units();
        let profile = target.path().join("release");
        let pruned = prune(target.path(), SystemTime::now() + KEPT_FOR / 2).unwrap();
        assert_eq!(pruned.entries, 0, "files younger than the limit stay");
        // A year on, A's build ran again (its record is new), B's did not.
        let later = year_on();
        for record in fs_err::read_dir(target.path().join(RECORDS)).unwrap() {
            let path = record.unwrap().path();
            rustix::fs::utimensat(
                rustix::fs::CWD,
                &path,
                &timestamps(later),
                rustix::fs::AtFlags::empty(),
            )
            .unwrap();
        }
        let pruned = prune(target.path(), later).unwrap();
        assert_eq!(pruned.entries, 2, "B's rlib and fingerprint: {pruned:?}");
        assert!(profile.join(format!("deps/librayon-{A}.rlib")).exists());
        assert!(profile.join(format!(".fingerprint/rayon-{A}")).exists());
        assert!(!profile.join(format!("deps/librayon-{B}.rlib")).exists());
        assert!(!profile.join(format!(".fingerprint/rayon-{B}")).exists());
    }

    #[test]
    fn old_records_go_and_then_their_units() {
        let target = target_with_two_units();
        let pruned = prune(target.path(), year_on()).unwrap();
        assert_eq!(pruned.entries, 4, "{pruned:?}");
        assert_eq!(
            fs_err::read_dir(target.path().join(RECORDS))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_profile_a_build_holds_is_left_alone() {
        let target = target_with_two_units();
        let profile = target.path().join("release");
        let _build = hold(&profile).unwrap().unwrap();
        // flock(2) locks belong to the open file: another open is refused.
        let pruned = prune(target.path(), year_on()).unwrap();
        assert_eq!(pruned.entries, 0);
        assert_eq!(pruned.busy, vec![profile.display().to_string()]);
    }

    fn timestamps(at: SystemTime) -> rustix::fs::Timestamps {
        let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let time = rustix::fs::Timespec {
            tv_sec: since.as_secs() as i64,
            tv_nsec: 0,
        };
        rustix::fs::Timestamps {
            last_access: time,
            last_modification: time,
        }
    }
}
