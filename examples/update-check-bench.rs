//! `update --check` over 50 registry plugins on the fixture registry with
//! 100 ms of added latency per request, against one round trip.
//!
//! `cargo run --release --example update-check-bench`

use std::time::{Duration, Instant};

use scope_test_support::{FixtureRegistry, Package};

fn main() {
    let server = FixtureRegistry::start();
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let mut toml = String::from("[plugins]\n");
    let mut lock = String::from("version = 1\nhost_version = \"0.1.0\"\napi_version = \"0.1.0\"\n");
    for i in 0..50 {
        let name = format!("plugin-{i:02}");
        let checksum = Package::new(&name, "1.0.0").api("^0.1").publish(&server);
        Package::new(&name, "1.1.0").api("^0.1").publish(&server);
        toml.push_str(&format!(
            "{name} = {{ version = \"1\", registry = \"fixture\" }}\n"
        ));
        lock.push_str(&format!(
            "\n[[plugin]]\nname = \"{name}\"\nversion = \"1.0.0\"\nsource = \"registry+fixture\"\nchecksum = \"{checksum}\"\ndependencies = []\n"
        ));
    }
    toml.push_str(&format!(
        "\n[registries.fixture]\nindex = \"{}\"\n",
        server.index_url()
    ));
    fs_err::write(home.join("plugins.toml"), toml).unwrap();
    fs_err::write(home.join("resolved.lock"), lock).unwrap();
    server.switches(|s| s.latency = Duration::from_millis(100));

    let scopectl = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("scopectl");
    let mut runs = Vec::new();
    for _ in 0..3 {
        let _ = fs_err::remove_dir_all(home.join("cache"));
        let started = Instant::now();
        let out = std::process::Command::new(&scopectl)
            .args(["--home"])
            .arg(&home)
            .args(["-q", "update", "--check", "--json"])
            .output()
            .expect("build scopectl first: cargo build --release");
        runs.push(started.elapsed());
        assert_eq!(
            out.status.code(),
            Some(10),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    runs.sort();
    let median = runs[1];
    println!("update --check over 50 registry plugins, 100 ms added latency per request (target: <= 3 round trips)");
    println!(
        "  median of 3 runs: {:.0} ms = {:.1} round trips of 100 ms",
        median.as_secs_f64() * 1000.0,
        median.as_secs_f64() / 0.1
    );
}
