//! The SDK a Scope plugin is written against.
//!
//! A plugin is a library crate that exposes a registration function,
//! `pub fn register_pipelines(registry: &mut Registry)`. The host calls it
//! once at start-up; the plugin registers each of its [`Pipeline`] types
//! there.
//!
//! A pipeline type describes itself with a [`PipelineConfig`]: an id, a name,
//! the [`Mode`]s it runs in and its typed [`Param`]s. The host validates every
//! parameter the user gives against that schema before the first frame, then
//! constructs the pipeline with [`Pipeline::load`] — which receives the
//! load-time parameters and the frame size — and drives it:
//! [`Pipeline::prepare`] says how many input [`Frame`]s the next call needs
//! ([`Requirements`]), [`Pipeline::process`] turns them into output frames.
//! Runtime parameters arrive as [`Params`] on every call.
//!
//! ```
//! use scope_plugin_api::{Frame, Load, Mode, Param, Params, Pipeline, PipelineConfig, Registry};
//!
//! struct Darken;
//!
//! impl Pipeline for Darken {
//!     fn config() -> PipelineConfig {
//!         PipelineConfig::new("darken", "Darken")
//!             .description("Scales every pixel down")
//!             .modes(&[Mode::Video], Mode::Video)
//!             .param(Param::float("amount", 0.5).range(0.0, 1.0).label("Amount"))
//!     }
//!
//!     fn load(_load: &Load) -> Result<Self, scope_plugin_api::Error> {
//!         Ok(Darken)
//!     }
//!
//!     fn process(&mut self, input: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, scope_plugin_api::Error> {
//!         let keep = 1.0 - params.float("amount") as f32;
//!         Ok(input.into_iter().map(|frame| frame.map_float(|v| v * keep)).collect())
//!     }
//! }
//!
//! pub fn register_pipelines(registry: &mut Registry) {
//!     registry.register::<Darken>();
//! }
//!
//! let mut registry = Registry::new();
//! register_pipelines(&mut registry);
//! assert_eq!(registry.pipelines()[0].config().id(), "darken");
//! ```
#![deny(missing_docs)]

mod config;
mod error;
mod frame;
pub mod json;
pub mod log;
mod params;
mod pipeline;
mod registry;
mod table;

pub use config::{Mode, PipelineConfig};
pub use error::Error;
pub use frame::{FloatFrame, Frame};
pub use params::{Category, Param, ParamError, ParamKind, Params, Value};
pub use pipeline::{Artifacts, Load, Pipeline, Requirements};
pub use registry::{PipelineEntry, RegisterError, Registry};

/// The version of this API. A plugin is compatible with a host when its
/// `scope-plugin-api` requirement matches the version the host is built with.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
