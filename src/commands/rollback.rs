//! `scopectl rollback [--to N]`: switch to an earlier generation without
//! building anything.

use std::process::ExitCode;

use anyhow::Result;

use crate::error::Hinted;
use crate::fsx;
use crate::generation::GenerationInfo;
use crate::home::Home;
use crate::printer::Printer;

pub fn rollback(home: &Home, to: Option<u64>, printer: &Printer) -> Result<ExitCode> {
    let _lock = super::lock_home(home, printer)?;
    let current = home.current().ok_or_else(|| {
        Hinted::new(
            format!(
                "nothing to roll back: no generation is active in {}",
                home.root().display()
            ),
            "install a plugin first, e.g. `scopectl install ./my-plugin`",
        )
    })?;
    let target = match to {
        Some(n) => n,
        None => home.generations()?.into_iter().filter(|&n| n < current).max().ok_or_else(|| {
            Hinted::new(
                format!("generation {current} is the oldest; there is nothing earlier to roll back to"),
                "see `scopectl history` for the generations there are",
            )
        })?,
    };
    if target == current {
        printer.status("Fresh", format!("generation {current} is already active"));
        return Ok(ExitCode::SUCCESS);
    }
    let info = GenerationInfo::read(home, target).map_err(|err| {
        anyhow::Error::new(Hinted::new(
            err.to_string(),
            "see `scopectl history` for the generations there are",
        ))
    })?;
    // The switch is the commit point; the files beside it follow.
    home.activate(target)?;
    let dir = home.generation_dir(target);
    for file in ["plugins.toml", "resolved.lock"] {
        let contents = fs_err::read(dir.join(file))?;
        fsx::write_atomic(&home.root().join(file), &contents)?;
    }
    crate::supervise::notify(home, printer);
    printer.status(
        "Rolled back",
        format!("from generation {current} to {target} ({})", info.command),
    );
    Ok(ExitCode::SUCCESS)
}
