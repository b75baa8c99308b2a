//! Testing a Scope plugin the way the host runs it.
//!
//! [`Harness`] loads one pipeline of a plugin as the host does — its
//! registration checked, `--set`-style parameters parsed against its
//! schema, the output size asked once — then feeds it frames, exactly as
//! many per call as its `prepare` asks for, with runtime parameters changed
//! between calls and `finish` at the end. Every call is held to the frame
//! contract by the host's own checks: a wrong size, a wrong number of
//! frames, a panic or an `Err` is an error naming the pipeline, with the
//! words the host would print.
//!
//! ```
//! use scope_plugin_test::{frames, Harness};
//! # use scope_plugin_api::{Error, Frame, Load, Params, Pipeline, PipelineConfig, Registry};
//! # struct Invert;
//! # impl Pipeline for Invert {
//! #     fn config() -> PipelineConfig { PipelineConfig::new("invert", "Invert") }
//! #     fn load(_: &Load) -> Result<Self, Error> { Ok(Invert) }
//! #     fn process(&mut self, input: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
//! #         Ok(input.into_iter().map(|f| f.map_float(|v| 1.0 - v)).collect())
//! #     }
//! # }
//! # fn register_pipelines(registry: &mut Registry) { registry.register::<Invert>(); }
//! let mut harness = Harness::builder(register_pipelines, "invert")
//!     .size(8, 6)
//!     .load()
//!     .unwrap();
//! let out = harness.run([frames::solid(8, 6, [10, 20, 30])]).unwrap();
//! assert_eq!(out[0].pixel(0, 0), [245, 235, 225]);
//! ```

pub use scope_host::harness::{Harness, HarnessBuilder};

pub mod frames;

mod compare;

pub use compare::{assert_frames_close, golden, psnr};

/// The plugin author's guide (`docs/guide.md`): its Rust blocks run as
/// this crate's doc tests. Only when doc tests are collected: the guide is
/// not part of the crate that the SDK embeds.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
mod guide {}
