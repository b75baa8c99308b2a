//! Plugins' data files (model weights, LUTs, calibration): declared with a
//! checksum in the plugin's `Cargo.toml`, fetched once per machine into a
//! content-addressed store, recorded in `resolved.lock`, pinned by
//! generations and found by the host at run time (`load.artifact("name")`).

mod declared;
pub mod store;

pub use declared::{parse, Declared};
pub use store::{Fetched, Store, StoreLock, Wanted};
