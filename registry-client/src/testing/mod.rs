//! Fixtures for tests: local git repositories made on the spot (and, with
//! the sources capability, a fixture registry served on `127.0.0.1`).

mod git;

pub use git::GitRepo;
