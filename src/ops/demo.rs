//! `demo`: the example plugins shipped inside scopectl, installed into a
//! home through the ordinary change, and a short video from them.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use scope_lockfile::PluginSpec;
use scope_name::PluginName;

use super::change::Edit;
use crate::embedded;
use crate::home::Home;
use crate::plugin_crate::PluginCrate;

/// The chain the demo runs, and the colour it generates.
pub const CHAIN: [&str; 2] = ["color-generator", "invert"];
const COLOR: [(&str, u8); 3] = [("color_r", 230), ("color_g", 120), ("color_b", 40)];
/// The examples' directory in the home.
const EXAMPLES: &str = "examples";
const HEADER: &str = "# The scopectl demo: the example plugins that ship inside scopectl.\n";

/// Writes the example plugins into the home and returns the edit that
/// installs them, by paths relative to the home (so it can move).
pub fn install_examples(home: &Home) -> Result<Edit> {
    let plugins = embedded::write_examples(&home.root().join(EXAMPLES))?
        .iter()
        .map(|dir| {
            let krate = PluginCrate::read(dir)?;
            let name = dir.file_name().context("an example has a directory name")?;
            let path = Path::new(EXAMPLES).join(name);
            Ok((krate.plugin_name()?, PluginSpec::Path { path }))
        })
        .collect::<Result<Vec<(PluginName, PluginSpec)>>>()?;
    Ok(Edit::Seed {
        header: HEADER,
        plugins,
    })
}

/// The host's arguments for `frames` frames of the demo chain into `output`.
pub fn run_args(frames: u64, output: &Path) -> Vec<String> {
    let mut args = vec!["run".to_owned()];
    for id in CHAIN {
        args.extend(["--pipeline".to_owned(), id.to_owned()]);
    }
    args.extend([
        "--frames".into(),
        frames.to_string(),
        "--size".into(),
        "512x512".into(),
    ]);
    for (key, v) in COLOR {
        args.extend(["--set".into(), format!("{key}={v}")]);
    }
    args.extend(["--output".into(), output.to_string_lossy().into_owned()]);
    args
}

/// Runs the active host with `args`.
pub fn write_video(home: &Home, args: &[String]) -> Result<()> {
    let host = home.host_path();
    let status = Command::new(&host)
        .args(args)
        .status()
        .with_context(|| format!("cannot start `{}`", host.display()))?;
    if !status.success() {
        bail!("the host exited with {status} while writing the demo video");
    }
    Ok(())
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
