//! The resolver: which version of every plugin goes into a host.
//!
//! It is pure — synchronous, no I/O — and sees the world through the
//! [`Index`] trait: the versions of a plugin (with a yanked flag) and what
//! each version needs (other plugins, a `scope-plugin-api` requirement,
//! conflicts). A [`Request`] says what the user asked for, what is locked,
//! which locked plugins may move ([`Unlock`]) and the host's API version.
//!
//! [`resolve`] runs PubGrub (the `pubgrub` crate) over a provider that maps
//! semver requirements to ranges with cargo's meaning, offers the host's API
//! as a package with one version, turns `conflicts` into incompatibilities,
//! prefers locked versions, then the newest, and decides the packages with
//! the fewest candidates first. Success is a [`Resolution`]: each chosen
//! version, who required it and why that version ([`Choice`]), and which
//! locked plugins were forced to move ([`Move`]). Failure is a [`Report`]:
//! the derivation as sentences, and a hint. [`newer`] answers
//! `update --check`: the newest version, the newest the constraints allow,
//! and the [`Constraint`] that holds a plugin back.

mod constraint;
mod index;
mod newer;
mod provider;
mod ranges;
mod report;
mod request;
mod solve;

pub use constraint::{Constraint, Requirement, Requirer};
pub use index::{Candidate, Index, IndexError, Manifest, MemoryIndex};
pub use newer::{newer, Newer};
pub use ranges::req_to_ranges;
pub use report::Report;
pub use request::{Origin, Request, Unlock};
pub use solve::{resolve, Choice, Move, Pick, Resolution, ResolveError};

pub use scope_name::{normalize, PluginName, API_CRATE};

/// A name the index or a manifest gives, as a [`PluginName`].
pub(crate) fn plugin_name(name: &str) -> Result<PluginName, IndexError> {
    PluginName::new(name).map_err(|e| IndexError {
        message: e.to_string(),
    })
}
