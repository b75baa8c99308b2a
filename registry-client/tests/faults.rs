//! Network faults between the client and the fixture registry, made by a
//! loopback proxy: each is retried or not as it should be, in bounded time,
//! with an error naming the URL and the fault, and nothing left in the cache.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scope_registry_client::http::{Http, HttpSettings, Reporter};
use scope_registry_client::registry::Registry;
use scope_test_support::{block_on as run, Fault, FaultProxy, FixtureRegistry, Package};

#[derive(Default)]
struct Retries(Mutex<Vec<String>>);

impl Reporter for Retries {
    fn retrying(&self, url: &str, why: &str, _wait: Duration, _left: u32) {
        self.0.lock().unwrap().push(format!("{url}: {why}"));
    }
}

struct Scene {
    server: FixtureRegistry,
    proxy: FaultProxy,
    temp: tempfile::TempDir,
    retries: Arc<Retries>,
    checksum: String,
}

fn scene() -> Scene {
    let server = FixtureRegistry::start();
    let checksum = Package::new("fx", "1.0.0")
        .file("src/big.rs", &"x".repeat(20_000))
        .publish(&server);
    let proxy = FaultProxy::start(&server.address());
    Scene {
        server,
        proxy,
        temp: tempfile::tempdir().unwrap(),
        retries: Arc::default(),
        checksum,
    }
}

impl Scene {
    fn registry(&self) -> Registry {
        let settings = HttpSettings {
            timeout: Duration::from_millis(800),
            retries: 3,
            backoff: Duration::from_millis(20),
        };
        let http = Arc::new(Http::new(settings, self.retries.clone()).unwrap());
        let registry = Registry::new(
            "fixture",
            &self.proxy.url(&self.server.index_url()),
            &self.temp.path().join("cache"),
            http,
            false,
        )
        .unwrap();
        run(registry.config()).unwrap();
        registry
    }

    /// Downloads fx 1.0.0 through the proxy with `fault` on the next
    /// `times` answers: the result, how long it took, how many retries.
    fn download(&self, fault: Fault, times: usize) -> (Result<(), String>, Duration, usize) {
        let registry = self.registry();
        self.retries.0.lock().unwrap().clear();
        self.proxy.inject(fault, times);
        let started = Instant::now();
        let downloads = self.temp.path().join("downloads");
        let result = run(registry.download("fx", "1.0.0", &self.checksum, &downloads))
            .map(|path| assert!(path.is_file()))
            .map_err(|e| format!("{e:#}"));
        let retries = self.retries.0.lock().unwrap().len();
        if result.is_err() {
            let left: Vec<_> = fs_err::read_dir(&downloads)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "nothing is left in the cache: {left:?}");
        }
        (result, started.elapsed(), retries)
    }
}

#[test]
fn each_fault_is_retried_or_refused_as_it_should_be() {
    // (fault, times, succeeds, retries, words in the error)
    let cases: Vec<(Fault, usize, bool, usize, &str)> = vec![
        (Fault::ResetBeforeAnswer, 1, true, 1, ""),
        (Fault::ResetBeforeAnswer, 4, false, 3, "after 4 attempts"),
        (Fault::ResetMidBody, 1, true, 1, ""),
        (
            Fault::Stall(Duration::from_secs(3)),
            4,
            false,
            3,
            "after 4 attempts",
        ),
        (
            Fault::Trickle(64, Duration::from_millis(20)),
            1,
            true,
            0,
            "",
        ),
        (Fault::LongContentLength, 1, true, 1, ""),
        (
            Fault::ShortContentLength,
            1,
            false,
            0,
            "failed verification",
        ),
        (Fault::Status(429, None), 1, true, 1, ""),
        (Fault::Status(429, Some(1)), 1, true, 1, ""),
        (Fault::Status(500, None), 3, true, 3, ""),
        (Fault::Status(502, None), 4, false, 3, "502"),
        (Fault::Status(503, None), 2, true, 2, ""),
        (Fault::Status(404, None), 1, false, 0, "404"),
        (
            Fault::Status(403, None),
            1,
            false,
            0,
            "403 Forbidden: registry `fixture` refused the request",
        ),
    ];
    let mut table = Vec::new();
    for (fault, times, succeeds, retries, words) in cases {
        let s = scene();
        let (result, took, seen) = s.download(fault.clone(), times);
        table.push(format!(
            "{fault:?} x{times}: {result:?} in {took:?} after {seen} retries"
        ));
        assert_eq!(result.is_ok(), succeeds, "{fault:?} x{times}: {result:?}");
        assert_eq!(
            seen,
            retries,
            "{fault:?} x{times}: {:?}",
            s.retries.0.lock().unwrap()
        );
        if let Err(error) = &result {
            assert!(error.contains("/dl/fx/1.0.0"), "the URL is named: {error}");
            assert!(error.contains(words), "`{words}` in: {error}");
        }
    }
    eprintln!("{}", table.join("\n"));
}
