//! The commands that change which plugins are installed: `install`,
//! `uninstall`, `sync` and `build`, each a thin layer over [`crate::change`].

use std::process::ExitCode;

use anyhow::Result;
use scope_lockfile::{Lockfile, PluginsToml};
use scope_resolver::Unlock;

use crate::change::{absolute, read_lock, read_plugins_toml, Change, Outcome, Sources};
use crate::cli::{GlobalArgs, InstallArgs};
use crate::error::Hinted;
use crate::home::Home;
use crate::printer::Printer;
use crate::spec::{self, RefFlags};
use crate::transaction::Transaction;

/// The command line for the generation's metadata, without `--home DIR`.
fn command_line() -> String {
    let mut words = vec!["scopectl".to_owned()];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--home" {
            args.next();
        } else if !arg.starts_with("--home=") {
            words.push(arg);
        }
    }
    words.join(" ")
}

fn report(outcome: Outcome, home: &Home, printer: &Printer) -> ExitCode {
    match outcome {
        Outcome::Unchanged => printer.status("Fresh", "nothing to change"),
        Outcome::WouldChange(changes) => {
            for change in &changes {
                println!("{change}");
            }
            printer.status(
                "Dry run",
                format!("{} change(s); nothing was touched", changes.len()),
            );
        }
        Outcome::Committed(n, changes) => {
            // What moved goes to stdout, as a script would want it.
            for change in changes.iter().filter(|c| *c != "rebuilt") {
                println!("{change}");
            }
            printer.status("Activated", format!("generation {n}"));
            crate::supervise::notify(home, printer);
        }
        Outcome::Recorded(changes) => {
            for change in &changes {
                println!("{change}");
            }
            printer.status(
                "Recorded",
                "plugins.toml and resolved.lock; run `scopectl sync` to build the host",
            );
        }
    }
    ExitCode::SUCCESS
}

struct Run<'a> {
    global: &'a GlobalArgs,
    rebuild: bool,
    dry_run: bool,
    no_build: bool,
    locked_only: bool,
    unlock: Unlock,
}

/// An edit of `plugins.toml`, made under the home's lock on what it holds then.
type Edit<'e> = dyn FnOnce(&mut PluginsToml, Option<&Lockfile>) -> Result<()> + 'e;

impl Run<'_> {
    fn go(self, home: &Home, printer: &Printer, edit: Box<Edit<'_>>) -> Result<ExitCode> {
        // A dry run reads and resolves; it takes no lock and changes nothing.
        // Everything else reads the files only once it holds the lock, so
        // two commands at once never build on a stale plugins.toml.
        let transaction = if self.dry_run {
            None
        } else {
            Some(Transaction::begin(home, printer)?)
        };
        let locked = read_lock(&home.resolved_lock())?;
        let mut desired = read_plugins_toml(&home.plugins_toml())?;
        edit(&mut desired, locked.as_ref())?;
        let sources = Sources::of(
            home,
            locked.as_ref(),
            desired.registries().clone(),
            self.global.offline,
            printer,
        );
        let mut sources = sources;
        sources.unlock = self.unlock.clone();
        let change = Change {
            sources: &sources,
            desired: &desired,
            locked: locked.as_ref(),
            rebuild: self.rebuild,
            locked_only: self.locked_only,
            offline: self.global.offline,
            command: command_line(),
        };
        let outcome = match &transaction {
            None => change.dry_run(home)?,
            Some(transaction) if self.no_build => change.record(transaction)?,
            Some(transaction) => change.run(transaction, printer)?,
        };
        Ok(report(outcome, home, printer))
    }
}

pub fn install(
    home: &Home,
    global: &GlobalArgs,
    args: &InstallArgs,
    printer: &Printer,
) -> Result<ExitCode> {
    let flags = RefFlags {
        branch: args.branch.clone(),
        tag: args.tag.clone(),
        rev: args.rev.clone(),
    };
    // Specs are checked before the lock is taken: a typo never waits.
    let mut wanted = Vec::new();
    for text in &args.specs {
        let requested = spec::parse(text, args.registry.as_deref(), &flags)?;
        let spec = absolute(requested.spec)?;
        let name = match requested.name {
            Some(name) => name,
            // Named by its crate: look before taking the lock. Nothing locked
            // is consulted here; the change itself uses the lock.
            None => Sources::of(home, None, Default::default(), global.offline, printer)
                .locate(&spec)?
                .krate
                .name
                .replace('_', "-"),
        };
        wanted.push((name, spec));
    }
    let edit = move |desired: &mut PluginsToml, _: Option<&Lockfile>| {
        for (name, spec) in wanted {
            desired.set(&name, spec);
        }
        Ok(())
    };
    Run {
        global,
        rebuild: false,
        dry_run: args.dry_run,
        no_build: args.no_build,
        unlock: Unlock::Nothing,
        locked_only: false,
    }
    .go(home, printer, Box::new(edit))
}

pub fn uninstall(
    home: &Home,
    global: &GlobalArgs,
    names: &[String],
    printer: &Printer,
) -> Result<ExitCode> {
    let removing: Vec<String> = names.iter().map(|n| n.replace('_', "-")).collect();
    let edit = move |desired: &mut PluginsToml, locked: Option<&Lockfile>| {
        for name in &removing {
            if !desired.plugins().contains_key(name) {
                return Err(not_installed(
                    name,
                    desired.plugins().keys().map(String::as_str),
                ));
            }
            let dependents: Vec<String> = locked
                .iter()
                .flat_map(|l| &l.plugins)
                .filter(|p| {
                    !removing.contains(&p.name.replace('_', "-")) && p.dependencies.contains(name)
                })
                .map(|p| p.name.clone())
                .collect();
            if !dependents.is_empty() {
                return Err(Hinted::new(
                    format!(
                        "cannot uninstall `{name}`: {} depends on it",
                        dependents.join(", ")
                    ),
                    format!("uninstall {} too, or first", dependents.join(", ")),
                )
                .into());
            }
            desired.remove(name);
        }
        Ok(())
    };
    Run {
        global,
        rebuild: false,
        dry_run: false,
        no_build: false,
        unlock: Unlock::Nothing,
        locked_only: false,
    }
    .go(home, printer, Box::new(edit))
}

pub fn sync(
    home: &Home,
    global: &GlobalArgs,
    locked: bool,
    frozen: bool,
    printer: &Printer,
) -> Result<ExitCode> {
    let mut global = global.clone();
    global.offline |= frozen;
    let locked_only = locked || frozen;
    if locked_only && !home.resolved_lock().is_file() {
        return Err(Hinted::new(
            format!(
                "{} is missing, and --locked needs it",
                home.resolved_lock().display()
            ),
            "run `scopectl sync` without --locked to create it",
        )
        .into());
    }
    Run {
        global: &global,
        rebuild: false,
        dry_run: false,
        no_build: false,
        unlock: Unlock::Nothing,
        locked_only,
    }
    .go(home, printer, Box::new(|_, _| Ok(())))
}

pub fn build(home: &Home, global: &GlobalArgs, printer: &Printer) -> Result<ExitCode> {
    rebuild(home, global, printer)
}

/// A new generation from the active pins, whatever changed or not.
fn rebuild(home: &Home, global: &GlobalArgs, printer: &Printer) -> Result<ExitCode> {
    let run = Run {
        global,
        rebuild: true,
        dry_run: false,
        no_build: false,
        unlock: Unlock::Nothing,
        locked_only: false,
    };
    run.go(home, printer, Box::new(|_, _| Ok(())))
}

/// `scopectl why NAME`.
pub fn why(home: &Home, global: &GlobalArgs, name: &str, printer: &Printer) -> Result<ExitCode> {
    let name = name.replace('_', "-");
    let resolution = read_only_change(home, global, printer, |change, _, _| change.explain())?;
    let Some(pick) = resolution.plugins.get(&name) else {
        return Err(not_installed(
            &name,
            resolution.plugins.keys().map(String::as_str),
        ));
    };
    println!("{name} v{}", pick.version);
    for requirement in &pick.required_by {
        let by = match &requirement.by {
            scope_resolver::Requirer::User => "you asked for it in plugins.toml".to_owned(),
            scope_resolver::Requirer::Plugin { name, version } => {
                format!("{name} v{version} depends on it")
            }
        };
        println!("  {by}: {}", requirement.req);
    }
    let because = match &pick.choice {
        scope_resolver::Choice::Locked => {
            "it is the version in resolved.lock, and nothing requires another".to_owned()
        }
        scope_resolver::Choice::Newest => "it is the newest version that can be chosen".to_owned(),
        scope_resolver::Choice::Held { newest, by } => format!("{newest} is newer, but {by}"),
        scope_resolver::Choice::Moved { from, by } => format!("it was locked at {from}, but {by}"),
    };
    println!("  this version: {because}");
    Ok(ExitCode::SUCCESS)
}

/// `scopectl reload NAME`: rebuilds an editable plugin from its directory.
pub fn reload(home: &Home, global: &GlobalArgs, name: &str, printer: &Printer) -> Result<ExitCode> {
    let name = name.replace('_', "-");
    let desired = read_plugins_toml(&home.plugins_toml())?;
    match desired.plugins().get(&name) {
        Some(scope_lockfile::PluginSpec::Path { .. }) => {}
        Some(_) => {
            return Err(Hinted::new(
                format!("`{name}` is not editable: only local (path) plugins are reloaded from their directory"),
                format!("move it to a newer version with `scopectl update {name}`"),
            )
            .into())
        }
        None => return Err(Hinted::new(format!("`{name}` is not installed"), "see `scopectl list`").into()),
    }
    printer.status("Reloading", &name);
    rebuild(home, global, printer)
}

/// `scopectl update [NAME...] [--dry-run]`: moves the named plugins (all
/// when none are named) to the newest versions the constraints allow.
pub fn update(
    home: &Home,
    global: &GlobalArgs,
    names: &[String],
    dry_run: bool,
    printer: &Printer,
) -> Result<ExitCode> {
    let unlock = if names.is_empty() {
        Unlock::All
    } else {
        let locked = read_lock(&home.resolved_lock())?;
        let installed: Vec<String> = locked
            .iter()
            .flat_map(|l| &l.plugins)
            .map(|p| p.name.replace('_', "-"))
            .collect();
        let mut set = std::collections::BTreeSet::new();
        for name in names {
            let name = name.replace('_', "-");
            if !installed.contains(&name) {
                return Err(Hinted::new(
                    format!("`{name}` is not installed"),
                    "see `scopectl list`",
                )
                .into());
            }
            set.insert(name);
        }
        Unlock::Plugins(set)
    };
    Run {
        global,
        rebuild: false,
        dry_run,
        no_build: false,
        locked_only: false,
        unlock,
    }
    .go(home, printer, Box::new(|_, _| Ok(())))
}

/// "`name` is not installed", with the names that are.
fn not_installed<'a>(name: &str, installed: impl Iterator<Item = &'a str>) -> anyhow::Error {
    let installed: Vec<&str> = installed.collect();
    let list = if installed.is_empty() {
        "none".to_owned()
    } else {
        installed.join(", ")
    };
    Hinted::new(
        format!("`{name}` is not installed"),
        format!("installed plugins: {list}"),
    )
    .into()
}

/// Runs `f` on the change that the home's files describe now, reading
/// only: no lock, nothing written (`why`, `update --check`).
pub(crate) fn read_only_change<T>(
    home: &Home,
    global: &GlobalArgs,
    printer: &Printer,
    f: impl FnOnce(&Change<'_>, Option<&Lockfile>, &PluginsToml) -> Result<T>,
) -> Result<T> {
    let locked = read_lock(&home.resolved_lock())?;
    let desired = read_plugins_toml(&home.plugins_toml())?;
    let sources = Sources::of(
        home,
        locked.as_ref(),
        desired.registries().clone(),
        global.offline,
        printer,
    );
    let change = Change {
        sources: &sources,
        desired: &desired,
        locked: locked.as_ref(),
        rebuild: false,
        locked_only: false,
        offline: global.offline,
        command: String::new(),
    };
    f(&change, locked.as_ref(), &desired)
}
