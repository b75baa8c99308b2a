//! `why NAME`: who asked for a plugin, and why at this version.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::ops::inspect;

pub fn why(context: &Context, name: &str) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let name = scope_name::PluginName::new(name)?;
    let why = inspect::why(&home, &context.settings, context.reporter(), &name)?;
    println!("{} v{}", why.name.normalized(), why.version);
    for line in &why.required_by {
        println!("  {line}");
    }
    println!("  this version: {}", why.because);
    if !why.allow.is_empty() {
        println!("  allowed: {}", why.allow.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
