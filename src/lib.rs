//! `scopectl`: the plugin manager of the Scope real-time video host.
//!
//! Map of the crate — which module owns what:
//!
//! - [`change`]: bringing a home to what `plugins.toml` asks for.
//! - [`cli`]: the command line (clap definitions); [`commands`]: one function
//!   per command, each a thin layer over the modules below.
//! - [`home`]: the home directory's layout (`plugins.toml`, `resolved.lock`,
//!   `generations/`, `current`, `bin/scope-host`, `run.pid`, the home's
//!   lock, and the disposable `build/` and `cache/`).
//! - [`generation`]: staging and publishing immutable generations;
//!   [`transaction`]: the order of a change, its journal and recovery.
//! - [`fsx`]: every atomic write and symlink switch of state files.
//! - [`plugin_crate`]: reading a plugin crate from its directory;
//!   [`spec`]: plugin specs as typed on the command line.
//! - [`registries`]: the registries a change reads (the cache under
//!   `cache/registry/`); git sources are cached under `cache/git/`.
//! - [`host_build`]: generating the host crate and building it with cargo.
//! - [`supervise`]: `scopectl run` and the restart protocol (`run.pid`, SIGHUP).
//! - [`embedded`]: the SDK and example plugin sources carried in the binary.
//! - [`printer`]: status lines and progress bars; [`error`]: error reports;
//!   [`time`]: timestamps for metadata.

pub mod change;
pub mod cli;
pub mod commands;
pub mod embedded;
pub mod error;
pub mod fsx;
pub mod generation;
pub mod home;
pub mod host_build;
pub mod plugin_crate;
pub mod printer;
pub mod registries;
pub mod spec;
pub mod supervise;
pub mod time;
pub mod transaction;
