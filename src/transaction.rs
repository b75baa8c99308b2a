//! Changing a home safely.
//!
//! Every change ends in one of two states: a new generation, built and
//! probed, is active; or nothing a user sees (`plugins.toml`,
//! `resolved.lock`, `current`, the active host) has changed. The order:
//!
//! 1. everything is prepared where users do not look: the host is built in
//!    `build/`, the generation is staged as `generations/.staging-*`;
//! 2. a journal (`.transaction`) records the generation about to appear
//!    and the one active now;
//! 3. the staged generation is renamed to `generations/<N>`;
//! 4. `current` switches to it with one rename — the commit point;
//! 5. `plugins.toml` and `resolved.lock` are replaced by the generation's
//!    copies, and the journal is removed.
//!
//! A command interrupted anywhere (Ctrl-C, `kill -9`) leaves the journal;
//! the next command, under the home's lock, finishes step 5 if `current`
//! had switched, and otherwise removes the half-made generation. Leftover
//! staging directories and temporary files are removed too.

use anyhow::{Context, Result};

use crate::fsx;
use crate::generation::NewGeneration;
use crate::home::{Home, HomeLock};
use crate::printer::Printer;

const JOURNAL: &str = ".transaction";

/// A change in progress: holds the home's lock.
pub struct Transaction<'h> {
    home: &'h Home,
    _lock: HomeLock,
}

impl<'h> Transaction<'h> {
    /// Takes the home's lock (saying `Blocking: …` when it must wait) and
    /// cleans up after any interrupted command.
    pub fn begin(home: &'h Home, printer: &Printer) -> Result<Transaction<'h>> {
        let lock = home.lock(crate::home::lock_timeout()?, || {
            printer.blocking(&format!(
                "Blocking: waiting for lock on {}",
                home.root().display()
            ));
        })?;
        if let Some(what) = recover(home)? {
            printer.warn(what);
        }
        Ok(Transaction { home, _lock: lock })
    }

    /// The home.
    pub fn home(&self) -> &Home {
        self.home
    }

    /// Makes `generation` the active one as number N (returned).
    pub fn commit(&self, generation: &NewGeneration<'_>) -> Result<u64> {
        let home = self.home;
        let n = home.generations()?.last().map_or(1, |last| last + 1);
        failpoint("before-stage");
        let staged = generation.stage(home, n)?;
        failpoint("after-stage");
        let journal = format!(
            "new = {n}\nprevious = {}\n",
            home.current().map_or(0, |c| c)
        );
        fsx::write_atomic(&home.root().join(JOURNAL), journal.as_bytes())?;
        fs_err::rename(&staged, home.generation_dir(n))?;
        failpoint("before-switch");
        home.activate(n)?;
        failpoint("after-switch");
        publish_files(home, n)?;
        fs_err::remove_file(home.root().join(JOURNAL))?;
        Ok(n)
    }
}

/// Copies the generation's `plugins.toml` and `resolved.lock` to the home.
fn publish_files(home: &Home, n: u64) -> Result<()> {
    let dir = home.generation_dir(n);
    for file in ["plugins.toml", "resolved.lock"] {
        let contents = fs_err::read(dir.join(file))?;
        fsx::write_if_changed(&home.root().join(file), &contents)?;
    }
    Ok(())
}

/// Finishes or undoes an interrupted change; says what it did.
pub fn recover(home: &Home) -> Result<Option<String>> {
    let mut did = Vec::new();
    let journal_path = home.root().join(JOURNAL);
    if journal_path.exists() {
        let new = home
            .pending()
            .context("the journal of an interrupted change is damaged")?;
        if home.current() == Some(new) {
            publish_files(home, new)?;
            did.push(format!(
                "finished the interrupted change to generation {new}"
            ));
        } else if home.generation_dir(new).exists() {
            fs_err::remove_dir_all(home.generation_dir(new))?;
            did.push(format!(
                "removed generation {new}, left by an interrupted change"
            ));
        }
        fs_err::remove_file(&journal_path)?;
    }
    for dir in [home.generations_dir(), home.root().to_owned()] {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".staging-") || name.starts_with(".tmp-") {
                let path = entry.path();
                if path.is_dir() {
                    fs_err::remove_dir_all(&path)?;
                } else {
                    fs_err::remove_file(&path)?;
                }
                did.push(format!("removed {name}, left by an interrupted change"));
            }
        }
    }
    Ok((!did.is_empty()).then(|| did.join("; ")))
}

/// Debug builds only: `SCOPE_FAILPOINT=<name>` stops the process hard at
/// that point, as `kill -9` would, for the crash-safety tests.
pub fn failpoint(name: &str) {
    if cfg!(debug_assertions) && std::env::var("SCOPE_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: stopping");
        std::process::abort();
    }
}
