//! Resource limits: answers and archives far larger than anything real are
//! refused in bounded memory. A counting allocator measures the heap this
//! process holds at its peak while each one is handled; the bound is twice
//! what was actually read plus a fixed 8 MiB, as the fault issue asks.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use scope_registry_client::http::{Http, HttpSettings, Limit, Silent};
use scope_registry_client::registry::Registry;
use scope_registry_client::unpack::unpack_crate;
use scope_test_support::alloc::{peak_during, Counting};
use scope_test_support::{block_on as run, FixtureRegistry, Length, Package};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

fn registry(server: &FixtureRegistry, cache: &std::path::Path) -> Registry {
    let settings = HttpSettings {
        timeout: Duration::from_secs(20),
        retries: 0,
        backoff: Duration::from_millis(10),
    };
    let http = Arc::new(Http::new(settings, Arc::new(Silent)).unwrap());
    Registry::new("fixture", &server.index_url(), cache, http, false).unwrap()
}

/// One test, so that no other test's allocations land in a measurement.
#[test]
fn oversized_answers_and_archives_are_refused_in_bounded_memory() {
    let temp = tempfile::tempdir().unwrap();
    let server = FixtureRegistry::start();
    let checksum = Package::new("big-one", "1.0.0").publish(&server);
    let hundred_mib = Arc::new(vec![b'x'; 100 * MIB]);
    let index = FixtureRegistry::index_file_path("huge");

    // An index file of 100 MB that says so: refused on its Content-Length.
    server.serve_raw(&index, hundred_mib.clone(), Length::Exact);
    let (result, peak) = peak_during(|| run(registry(&server, temp.path()).krate("huge")));
    let error = format!("{:#}", result.unwrap_err());
    assert!(
        error.contains("Content-Length says 104857600 bytes"),
        "{error}"
    );
    assert!(error.contains("/index/hu/ge/huge"), "{error}");
    assert!(peak < 8 * MIB, "claimed 100 MB: the heap rose {peak} bytes");
    println!("index file of 100 MB, claimed: heap +{} KiB", peak / 1024);

    // The same without a length: read until the limit, then refused.
    server.serve_raw(&index, hundred_mib.clone(), Length::Omitted);
    let (result, peak) = peak_during(|| run(registry(&server, temp.path()).krate("huge")));
    let error = format!("{:#}", result.unwrap_err());
    assert!(error.contains("sent more than 32 MiB"), "{error}");
    let read = Limit::IN_MEMORY.bytes as usize;
    assert!(
        peak < 2 * read + 8 * MIB,
        "100 MB streamed: the heap rose {peak} bytes"
    );
    println!("index file of 100 MB, streamed: heap +{} MiB", peak / MIB);

    // A `.crate` whose answer claims 2 GB: refused before a byte is stored.
    let download = format!("/dl/big-one/1.0.0/bi/g-/bi/g-/{checksum}");
    server.serve_raw(
        &download,
        Arc::new(vec![0; 64 * 1024]),
        Length::Claimed(2 << 30),
    );
    let downloads = temp.path().join("downloads");
    let registry = registry(&server, temp.path());
    let (result, peak) =
        peak_during(|| run(registry.download("big-one", "1.0.0", &checksum, &downloads)));
    let error = format!("{:#}", result.unwrap_err());
    assert!(
        error.contains("Content-Length says 2147483648 bytes"),
        "{error}"
    );
    assert!(error.contains("a `.crate` download"), "{error}");
    let left: Vec<_> = fs_err::read_dir(&downloads).unwrap().flatten().collect();
    assert!(left.is_empty(), "nothing is kept: {left:?}");
    assert!(peak < 8 * MIB, "claimed 2 GB: the heap rose {peak} bytes");
    println!(".crate claiming 2 GB: heap +{} KiB", peak / 1024);

    // A `.crate` whose tar entry claims 2 GB and holds 1 MiB: an error,
    // in fixed memory, and nothing unpacked.
    let archive = temp.path().join("liar.crate");
    let mut header = tar::Header::new_gnu();
    header.set_path("liar-1.0.0/src/lib.rs").unwrap();
    header.set_size(2 << 30);
    header.set_mode(0o644);
    header.set_cksum();
    let mut gz = flate2::write::GzEncoder::new(
        fs_err::File::create(&archive).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(header.as_bytes()).unwrap();
    gz.write_all(&vec![b'/'; MIB]).unwrap();
    gz.finish().unwrap();
    let destination = temp.path().join("unpacked/liar-1.0.0");
    let (result, peak) = peak_during(|| unpack_crate(&archive, "liar", "1.0.0", &destination));
    let error = anyhow_chain(&result.unwrap_err());
    assert!(error.contains("liar.crate"), "{error}");
    assert!(!destination.exists());
    assert!(
        peak < 8 * MIB,
        "an entry claiming 2 GB: the heap rose {peak} bytes"
    );
}

fn anyhow_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
