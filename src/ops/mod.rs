//! Operations: the work behind the commands, as library functions that take
//! resolved [`Settings`](crate::settings::Settings) and a
//! [`Reporter`](crate::reporter::Reporter) and return data — an outcome, a
//! document, a list of checks. They never print; a command renders what
//! they return for a terminal, and a server can render it as JSON.
//!
//! - [`change`]: install, uninstall, update, sync, build, reload, demo —
//!   one operation over [`plan`] (gather, resolve, fetch), the host
//!   builder, [`probe`] and the home's transaction;
//! - [`sources`] and [`registries`]: where plugins come from;
//! - [`check`]: `update --check`; [`inspect`]: `list`, `history`, `why`;
//! - [`fetch`]: filling the caches for offline work;
//! - [`gc`] and [`doctor`]: keeping a home tidy and healthy;
//! - [`demo`]: the example plugins and the demo video.

pub mod change;
pub mod check;
pub mod demo;
pub mod doctor;
pub mod fetch;
pub mod gc;
pub mod grants;
pub mod import;
pub mod inspect;
pub mod plan;
pub mod plugin_check;
pub mod plugin_package;
pub mod policy_check;
pub mod probe;
pub mod registries;
pub mod requests;
pub mod rollback;
pub mod sbom;
pub mod sources;
