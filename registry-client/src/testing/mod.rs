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

/// Runs `future` to its end on a runtime of its own (the client is async;
/// tests are not).
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}
