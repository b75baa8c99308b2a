//! Fixtures for tests: local git repositories made on the spot (and, with
//! the sources capability, a fixture registry served on `127.0.0.1`).

mod git;
mod git_http;
mod proxy;
mod registry;

pub use git::GitRepo;
pub use git_http::GitHttpServer;
pub use proxy::{Fault, FaultProxy};
pub use registry::{FixtureRegistry, Length, Package, Switches};
