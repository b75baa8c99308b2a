//! Fixtures for scopectl's tests, of every crate: local git repositories
//! made on the spot, a sparse registry, a git smart-HTTP server and a proxy
//! that injects network faults, all served on `127.0.0.1` and bounded in
//! time; a scratch home and scrubbed environment for the `scopectl` binary
//! ([`TestContext`]); and a counting allocator ([`alloc`]). Production crates never
//! depend on it.

pub mod alloc;
mod context;
mod git;
mod git_http;
mod proxy;
mod registry;

pub use context::{cargo_home, scrub, shared_target_dir, TestContext};
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

/// Lowercase hex of `bytes` (checksums, ETags).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
