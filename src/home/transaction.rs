//! Changing a home safely.
//!
//! Every change ends in one of two states: the new state is complete and
//! active; or nothing a user sees (`plugins.toml`, `resolved.lock`,
//! `current`, the active host) has changed. A [`Transaction`] holds the
//! home's lock and is the only way to change those files:
//!
//! 1. everything is prepared where users do not look: the host is built in
//!    `build/`, a new generation is staged as `generations/.staging-*`;
//! 2. the journal (`.transaction`) records the generation about to become
//!    active and the one active now;
//! 3. a staged generation is renamed to `generations/<N>`;
//! 4. `current` switches to it with one rename — the commit point;
//! 5. `plugins.toml` and `resolved.lock` are replaced by the generation's
//!    copies, and the journal is removed.
//!
//! Every switch of `current` (a commit, `rollback`, `doctor --repair`'s
//! relink, an import) goes through [`activate`]; when the transaction ends,
//! the supervisors running hosts of the home are told, once.
//!
//! A command interrupted anywhere (Ctrl-C, `kill -9`) leaves the journal;
//! the next transaction finishes step 5 if `current` had switched, and
//! otherwise removes the half-made generation. Leftover staging directories
//! and temporary files are removed too.

use anyhow::Result;

use super::journal::Journal;
use super::{Home, HomeLock, NewGeneration};
use crate::cancel;
use crate::failpoint;
use crate::fsx;
use crate::reporter::Reporter;

/// A change in progress: holds the home's lock.
pub struct Transaction<'h> {
    home: &'h Home,
    reporter: &'h dyn Reporter,
    timeout: Option<std::time::Duration>,
    _lock: HomeLock,
    recovered: Option<String>,
    /// `current` moved: the supervisors are told when the transaction ends.
    activated: std::cell::Cell<bool>,
}

impl<'h> Transaction<'h> {
    /// Takes the home's lock (saying `Blocking: …` when it must wait, for
    /// at most `timeout`) and cleans up after any interrupted command.
    pub fn begin(
        home: &'h Home,
        timeout: Option<std::time::Duration>,
        reporter: &'h dyn Reporter,
    ) -> Result<Transaction<'h>> {
        let lock = home.lock(timeout, reporter)?;
        let mut transaction = Transaction {
            home,
            reporter,
            timeout,
            _lock: lock,
            recovered: None,
            activated: std::cell::Cell::new(false),
        };
        transaction.recovered = transaction.recover()?;
        if let Some(what) = &transaction.recovered {
            reporter.warn(what);
        }
        Ok(transaction)
    }

    /// What beginning cleaned up after an interrupted command, if anything.
    pub fn recovered(&self) -> Option<&str> {
        self.recovered.as_deref()
    }

    /// The home.
    pub fn home(&self) -> &Home {
        self.home
    }

    /// Holds the cache for deleting from it (`gc`), once the commands
    /// reading it without the home's lock are done.
    pub fn collecting_cache(&self) -> Result<HomeLock> {
        self.home.collecting_cache(self.timeout, self.reporter)
    }

    /// Makes `generation` the active one as number N (returned).
    /// A signal that arrives meanwhile waits for it (see [`cancel`]).
    pub fn commit(&self, generation: &NewGeneration<'_>) -> Result<u64> {
        let home = self.home;
        cancel::committing(
            || {
                let n = home.generations()?.last().map_or(1, |last| last + 1);
                failpoint::hit("before-stage");
                let staged = generation.stage(home, n)?;
                failpoint::hit("after-stage");
                self.journal(n, true)?;
                fs_err::rename(&staged, home.generation_dir(n))?;
                fsx::sync_dir(&home.generations_dir());
                self.switch(n)?;
                Ok(n)
            },
            |n| format!("generation {n} had begun to commit and is now active"),
        )
    }

    /// Makes the existing generation `n` the active one (`rollback`,
    /// `doctor --repair`), through the same journal as a new one.
    pub fn switch_to(&self, n: u64) -> Result<()> {
        cancel::committing(
            || {
                self.journal(n, false)?;
                self.switch(n)
            },
            |()| format!("the switch to generation {n} had begun and is done"),
        )
    }

    /// Points `current` and `bin/scope-host` at generation `n`, touching
    /// nothing else (`doctor --repair`, when `current` is missing or `bin`
    /// leads elsewhere; `plugins.toml` keeps any edits not yet synced).
    /// Each link is replaced atomically, so no journal is needed.
    pub fn relink(&self, n: u64) -> Result<()> {
        anyhow::ensure!(
            self.home.generations()?.contains(&n),
            "generation {n} does not exist"
        );
        cancel::committing(
            || self.activate(n),
            |()| format!("`current` had begun to move and now names generation {n}"),
        )
    }

    /// `--no-build`: records `plugins.toml` and `resolved.lock` for a later
    /// `sync`, with no new generation. Each file is replaced atomically.
    pub fn record(&self, plugins_toml: &str, resolved_lock: &str) -> Result<()> {
        cancel::committing(
            || {
                fsx::write_atomic(&self.home.resolved_lock_path(), resolved_lock.as_bytes())?;
                fsx::write_atomic(&self.home.plugins_toml_path(), plugins_toml.as_bytes())
            },
            |()| {
                "plugins.toml and resolved.lock had begun to be written and are recorded".to_owned()
            },
        )
    }

    /// Deletes generation `n` (`gc`); never the active one.
    pub fn remove_generation(&self, n: u64) -> Result<()> {
        anyhow::ensure!(
            self.home.current() != Some(n),
            "generation {n} is active and cannot be removed"
        );
        cancel::committing(
            || Ok(fs_err::remove_dir_all(self.home.generation_dir(n))?),
            |()| format!("generation {n} had begun to be removed and is gone"),
        )
    }

    fn journal(&self, new: u64, created: bool) -> Result<()> {
        Journal {
            new,
            previous: self.home.current().unwrap_or(0),
            created,
        }
        .write(self.home.root())
    }

    /// Steps 4 and 5: the switch, then the files beside it.
    fn switch(&self, n: u64) -> Result<()> {
        failpoint::hit("before-switch");
        self.activate(n)?;
        failpoint::hit("after-switch");
        publish_files(self.home, n)?;
        Journal::remove(self.home.root())
    }

    /// The one way `current` moves.
    fn activate(&self, n: u64) -> Result<()> {
        self.activated.set(true);
        activate(self.home, n)
    }

    /// Finishes or undoes an interrupted change; says what it did.
    fn recover(&self) -> Result<Option<String>> {
        let home = self.home;
        let mut did = Vec::new();
        if let Some(journal) = Journal::read(home.root()) {
            let journal = journal?;
            let new = journal.new;
            if home.current() == Some(new) {
                publish_files(home, new)?;
                did.push(format!(
                    "finished the interrupted change to generation {new}"
                ));
            } else if journal.created && home.generation_dir(new).exists() {
                fs_err::remove_dir_all(home.generation_dir(new))?;
                did.push(format!(
                    "removed generation {new}, left by an interrupted change"
                ));
            }
            Journal::remove(home.root())?;
        }
        for path in leftover_paths(home) {
            if path.is_dir() {
                fs_err::remove_dir_all(&path)?;
            } else {
                fs_err::remove_file(&path)?;
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            did.push(format!("removed {name}, left by an interrupted change"));
        }
        Ok((!did.is_empty()).then(|| did.join("; ")))
    }
}

impl Drop for Transaction<'_> {
    /// After the last step of a change that moved `current`: running
    /// hosts switch to the generation now active.
    fn drop(&mut self) {
        if self.activated.get() {
            crate::supervise::notify(self.home, self.reporter);
        }
    }
}

/// Points `current` at generation `n` with one atomic rename, and
/// `bin/scope-host` through it.
fn activate(home: &Home, n: u64) -> Result<()> {
    fsx::symlink_atomic(
        &std::path::Path::new("generations").join(n.to_string()),
        &home.root().join("current"),
    )?;
    let host = home.host_path();
    let expected = std::path::Path::new("..")
        .join("current")
        .join(super::HOST_BINARY);
    if fs_err::read_link(&host).ok().as_deref() != Some(expected.as_path()) {
        fsx::symlink_atomic(&expected, &host)?;
    }
    Ok(())
}

/// Copies the generation's `plugins.toml` and `resolved.lock` to the home.
fn publish_files(home: &Home, n: u64) -> Result<()> {
    let dir = home.generation_dir(n);
    for (file, target) in [
        ("plugins.toml", home.plugins_toml_path()),
        ("resolved.lock", home.resolved_lock_path()),
    ] {
        let contents = fs_err::read(dir.join(file))?;
        fsx::write_if_changed(&target, &contents)?;
    }
    Ok(())
}

/// What interrupted commands left: the journal, staging directories and
/// temporary files, by name (`doctor` reports them; a transaction removes them).
pub fn leftovers(home: &Home) -> Vec<String> {
    let mut found = Vec::new();
    if Journal::exists(home.root()) {
        found.push(".transaction".to_owned());
    }
    found.extend(leftover_paths(home).iter().map(|p| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }));
    found
}

fn leftover_paths(home: &Home) -> Vec<std::path::PathBuf> {
    [home.generations_dir(), home.root().to_owned()]
        .iter()
        .flat_map(|dir| fs_err::read_dir(dir).into_iter().flatten().flatten())
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(".staging-") || name.starts_with(".tmp-")
        })
        .map(|entry| entry.path())
        .collect()
}
