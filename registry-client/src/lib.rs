//! Everything that brings a plugin's source onto the machine.
//!
//! - [`unpack`] extracts a downloaded `.crate` archive into a private
//!   directory and moves it into place only when every entry was safe and
//!   the whole archive was read; hostile archives are refused by name.
//! - [`git`] validates git URLs and revisions before any git operation,
//!   keeps one bare cache per normalised URL, resolves a branch, tag or
//!   commit to a commit id, checks that commit out into a directory keyed by
//!   it, and asks a remote for a branch's tip without fetching.
//! - [`registry`] reads sparse registries through one [`http`] client:
//!   `config.json`, index entries revalidated into an on-disk cache,
//!   offline reads, and downloads verified against the index's SHA-256.
//! - [`plugins`] gathers what the resolver needs from a registry.
//! - [`redact`] keeps credentials out of every message.

pub mod git;
mod git_login;
pub mod http;
pub mod plugins;
pub mod redact;
pub mod registry;
pub mod unpack;
