//! `scopectl`: the plugin manager of the Scope real-time video host.
//!
//! Map of the crate — which module owns what:
//!
//! - [`cli`]: the command line (clap definitions); [`settings`]: flags,
//!   environment and defaults resolved once into [`settings::Settings`] —
//!   the only place that reads the environment;
//!   [`commands`]: one module per command, a thin layer that calls an
//!   operation and renders its result.
//! - [`ops`]: the operations — changing the plugin set (gather, resolve,
//!   fetch, build, probe, commit), `update --check`, `list`, `history`,
//!   `why`, `gc`, `doctor`, `demo`. They return data and report progress
//!   through a [`reporter::Reporter`]; they never print.
//! - [`home`]: the home directory and everything on disk in it:
//!   `plugins.toml`, `resolved.lock`, `generations/`, `current`,
//!   `bin/scope-host`, the lock, the journal, the cache buckets. Only its
//!   [`home::Transaction`] writes `plugins.toml`, `resolved.lock` and
//!   `current`; [`fsx`] does the atomic writes.
//! - [`host_build`]: generating the host crate in `build/` and building it
//!   with cargo; [`embedded`]: the SDK and example plugin sources carried in
//!   the binary.
//! - [`plugin_crate`]: reading a plugin crate from its directory;
//!   [`spec`]: plugin specs as typed on the command line. Plugin names are
//!   [`scope_name::PluginName`]s everywhere.
//! - [`documents`]: the JSON documents written and read, as serde types.
//! - [`supervise`]: `scopectl run` and the restart protocol (`run/<name>/pid`, SIGHUP), streams that survive restarts, the control socket.
//! - [`serve`]: `scopectl serve`, the HTTP API over the operations.
//! - [`oci`]: generations as OCI artifacts (export, push, import).
//! - [`output`]: the printer and error reports (the terminal);
//!   [`reporter`]: the interface operations report through;
//!   [`failpoint`]: crash points for tests; [`time`]: timestamps.

pub mod artifacts;
pub mod cancel;
pub mod capability;
pub mod change;
pub mod cli;
pub mod commands;
pub mod documents;
pub mod embedded;
pub mod error;
pub mod failpoint;
pub mod fsx;
pub mod home;
pub mod host_build;
pub mod metrics;
pub mod oci;
pub mod ops;
pub mod output;
pub mod plugin_crate;
pub mod policy;
pub mod prompt;
pub mod reporter;
pub mod sandbox;
pub mod serve;
pub mod settings;
pub mod signing;
pub mod spec;
pub mod supervise;
pub mod time;
