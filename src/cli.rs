//! The command line, as clap definitions. Man pages and completions are
//! generated from these same definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plugin manager for the Scope real-time video host.
#[derive(Debug, Parser)]
#[command(name = "scopectl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The home directory holding plugins.toml, resolved.lock and generations
    /// [default: $SCOPE_HOME, else ~/.scope]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Use only what is cached; name what is missing
    #[arg(long, global = true)]
    pub offline: bool,
    /// Print errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is unset
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a host with the example plugins and run a text → video chain
    ///
    /// Installs the example plugins shipped inside scopectl into a home of its
    /// own (by default `demo` under the default home, so your plugin set is
    /// untouched), builds the host, runs `color-generator → invert` and writes
    /// a short y4m video.
    Demo(DemoArgs),
    /// Switch to the previous generation (or generation N) without rebuilding
    Rollback {
        /// The generation to switch to
        #[arg(long, value_name = "N")]
        to: Option<u64>,
    },
    /// List the generations: number, time, command, what changed, which is current
    History {
        /// Print one JSON object (see the README)
        #[arg(long)]
        json: bool,
    },
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many frames to write
    #[arg(long, default_value_t = 60)]
    pub frames: u64,
    /// Where to write the video [default: <home>/demo.y4m]
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
