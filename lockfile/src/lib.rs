//! The two files of a home that users and CI read and commit.
//!
//! [`PluginsToml`] is the user's intent: which plugins, from where, with
//! which requirement, in cargo's dependency syntax. It is hand-editable, so
//! it is read and edited with `toml_edit`: a user's comments, order and
//! layout survive every edit scopectl makes, and a mistake is reported with
//! the file, line, column and offending text.
//!
//! [`Lockfile`] (`resolved.lock`) is exactly what was chosen: every plugin's
//! version and source (commit for git, checksum for registry crates), the
//! host and API versions, and the host build's full crate graph. It is
//! written deterministically — sorted, stable, with a `version` key — and
//! refused when it comes from a newer scopectl.

mod lock;
mod plugins_toml;

pub use lock::{
    ArtifactPin, CrateChange, CratePin, LockError, Lockfile, Pin, PinSource, LOCK_VERSION,
};
pub use plugins_toml::{GitReference, PluginSpec, PluginsToml, PluginsTomlError};
