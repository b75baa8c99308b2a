//! `run [-- HOST-ARGS...]`: the host under supervision.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;

use super::Context;

pub fn run(context: &Context, args: &[OsString]) -> Result<ExitCode> {
    let home = context.home()?;
    crate::supervise::supervise(&home, args, &context.printer)
}
