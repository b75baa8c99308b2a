//! `gc [--keep N]`: delete old generations and the cache only they used.

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::Context;
use crate::home::Transaction;

/// `1.5 MiB`, as a person reads sizes.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

pub fn gc(context: &Context, keep: usize) -> Result<ExitCode> {
    let home = context.home()?;
    let printer = &context.printer;
    let transaction = Transaction::begin(&home, context.settings.lock_timeout, printer)?;
    let store = crate::artifacts::Store::of(&context.settings).ok();
    let collected = crate::ops::gc::gc(&transaction, keep, store.as_ref(), printer)?;
    if collected.generations.is_empty() {
        printer.status("Fresh", "no generation to delete");
    } else {
        let numbers: Vec<String> = collected.generations.iter().map(u64::to_string).collect();
        printer.status("Removed", format!("generation(s) {}", numbers.join(", ")));
    }
    let freed = collected.cache_entries;
    if freed > 0 {
        printer.status(
            "Removed",
            format!(
                "{freed} unreferenced cache entr{}",
                if freed == 1 { "y" } else { "ies" }
            ),
        );
    }
    // A target directory of the home's own, from before hosts compiled in
    // the user cache (or in CARGO_TARGET_DIR): nothing uses it any more.
    let own = home.build_dir().join("target");
    let used =
        crate::host_build::HostBuilder::new(&home.build_dir(), &context.settings.build).target_dir;
    let mut freed = collected.bytes;
    if used != own && own.is_dir() {
        freed += crate::fsx::tree_size(&own);
        fs_err::remove_dir_all(&own)?;
        printer.status(
            "Removed",
            format!(
                "{} (hosts compile in {} now)",
                own.display(),
                used.display()
            ),
        );
    }
    if let Some(shared) = context
        .settings
        .build
        .shared_target_dir
        .as_deref()
        .filter(|dir| dir.is_dir())
    {
        let pruned = crate::host_build::usage::prune(shared, std::time::SystemTime::now())
            .with_context(|| format!("cannot tidy the compiled crates in {}", shared.display()))?;
        freed += pruned.bytes;
        if pruned.entries > 0 {
            printer.status(
                "Removed",
                format!(
                    "{} compiled crate file(s) no host build used in {} days, from {}",
                    pruned.entries,
                    crate::host_build::usage::KEPT_FOR.as_secs() / 86_400,
                    shared.display()
                ),
            );
        }
        for profile in &pruned.busy {
            printer.warn(format!(
                "a build is running in {profile}: what it holds stays until the next `gc`"
            ));
        }
    }
    if collected.artifacts > 0 {
        printer.status(
            "Removed",
            format!(
                "{} artifact(s) no generation of any home pins",
                collected.artifacts
            ),
        );
    }
    printer.status("Freed", human_bytes(freed));
    Ok(ExitCode::SUCCESS)
}
