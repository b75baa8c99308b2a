//! `export`, `push` and `import`: generations as OCI artifacts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::oci::registry::{self, Target};
use crate::oci::{layout, Artifact};
use crate::ops::import::{import as import_generation, Imported};

pub fn export(
    context: &Context,
    generation: Option<u64>,
    output: Option<PathBuf>,
    oci_layout: Option<PathBuf>,
    tag: &str,
) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let artifact = Artifact::of_generation(&home, generation)?;
    let written = match (output, oci_layout) {
        (Some(file), _) => {
            layout::write_tar(&file, &artifact, tag)?;
            file
        }
        (None, Some(dir)) => {
            layout::write(&dir, &artifact, tag)?;
            dir
        }
        (None, None) => unreachable!("clap requires one"),
    };
    context.printer.status(
        "Exported",
        format!("{} to {}", artifact.digest(), written.display()),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn push(context: &Context, reference: &str, generation: Option<u64>) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let target = Target::parse(reference)?;
    let artifact = Artifact::of_generation(&home, generation)?;
    context.printer.status("Pushing", reference);
    let digest = registry::push(&target, &artifact, &context.settings.oci)?;
    context
        .printer
        .status("Pushed", format!("{reference}@{digest}"));
    Ok(ExitCode::SUCCESS)
}

pub fn import(context: &Context, source: &str) -> Result<ExitCode> {
    let home = context.home()?;
    match import_generation(&home, &context.settings, &context.printer, source)? {
        Imported::Unchanged(n) => context
            .printer
            .status("Fresh", format!("generation {n} is this artifact already")),
        Imported::Committed { generation, digest } => context.printer.status(
            "Activated",
            format!("generation {generation} (imported {digest})"),
        ),
    }
    Ok(ExitCode::SUCCESS)
}
