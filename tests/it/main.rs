//! scopectl's integration tests, one binary (as cargo's and uv's are):
//! each module is one area, driving the real `scopectl` and `scope-host`
//! against fixture registries, git repositories and OCI registries made on
//! the spot. `support` is the harness: a `TestContext` per test (its own
//! home, cargo home and temporary directory, with the shared target
//! directory for host builds), the fixture servers and the helpers.
//!
//! Run one area with `cargo test --test it AREA::`, e.g.
//! `cargo test --test it frame_faults::`.

mod support;

mod artifacts;
mod cancel;
mod capabilities;
mod check;
mod crash_campaign;
mod demo;
mod doctor;
mod follow;
mod frame_faults;
mod fuzz;
mod generations;
mod git_login;
mod guide;
mod host_build;
mod install;
mod install_git;
mod install_registry;
mod limits;
mod locked_graph;
mod man;
mod metrics;
mod network_faults;
mod new;
mod oci;
mod offline;
mod output;
mod policy;
mod portable;
mod readme;
mod sandbox;
mod sbom;
mod serve;
mod shared_target;
mod signing;
mod stream;
mod supervise;
mod systemd_unit;
mod update;
