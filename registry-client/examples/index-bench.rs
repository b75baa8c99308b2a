//! Fetches the index entries of 50 crates from the fixture registry with
//! 100 ms of added latency per request: all at once, against one round trip
//! and against fetching them one at a time.
//!
//! `cargo run --release -p scope-registry-client --example index-bench`

use std::sync::Arc;
use std::time::{Duration, Instant};

use scope_registry_client::http::{Http, HttpSettings, Silent};
use scope_registry_client::registry::Registry;
use scope_test_support::{FixtureRegistry, Package};

fn main() {
    let latency = Duration::from_millis(100);
    let server = FixtureRegistry::start();
    let names: Vec<String> = (0..50).map(|i| format!("plugin-{i:02}")).collect();
    for name in &names {
        Package::new(name, "1.0.0").api("^0.1").publish(&server);
    }
    server.switches(|s| s.latency = latency);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let fresh = || {
        let temp = tempfile::tempdir().unwrap();
        let http = Arc::new(Http::new(HttpSettings::default(), Arc::new(Silent)).unwrap());
        let registry =
            Registry::new("fixture", &server.index_url(), temp.path(), http, false).unwrap();
        (temp, Arc::new(registry))
    };

    let (_temp, registry) = fresh();
    let started = Instant::now();
    runtime.block_on(registry.config()).unwrap();
    let round_trip = started.elapsed();

    let (_temp, registry) = fresh();
    runtime.block_on(registry.config()).unwrap();
    let started = Instant::now();
    let results = runtime.block_on(registry.krates(&names));
    let concurrent = started.elapsed();
    assert!(results.iter().all(|(_, r)| matches!(r, Ok(Some(_)))));

    let (_temp, registry) = fresh();
    runtime.block_on(registry.config()).unwrap();
    let started = Instant::now();
    for name in &names {
        runtime.block_on(registry.krate(name)).unwrap().unwrap();
    }
    let sequential = started.elapsed();

    println!(
        "index entries of 50 crates, 100 ms added latency per request (target: <= 3 round trips)"
    );
    println!(
        "  one round trip (config.json):  {:7.0} ms",
        round_trip.as_secs_f64() * 1000.0
    );
    println!(
        "  all 50 concurrently:           {:7.0} ms  ({:.1} round trips)",
        concurrent.as_secs_f64() * 1000.0,
        concurrent.as_secs_f64() / round_trip.as_secs_f64()
    );
    println!(
        "  one at a time:                 {:7.0} ms  ({:.1} round trips)",
        sequential.as_secs_f64() * 1000.0,
        sequential.as_secs_f64() / round_trip.as_secs_f64()
    );
}
