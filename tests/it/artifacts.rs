//! Plugins' data files: a 64 MB artifact declared with its checksum, served
//! on loopback through the fault proxy, fetched (resumed with `Range`),
//! verified, locked, shared by homes and generations in one store, read by
//! the plugin through the SDK, collected only when nothing pins it, and
//! usable offline.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::support;
use scope_test_support::{Fault, FaultProxy, FixtureRegistry, Length};
use sha2::{Digest, Sha256};
use support::{output, stderr, stdout, TestContext};

const SIZE: usize = 64 << 20;

/// 64 MB of noise, the same every run.
fn palette() -> Arc<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(31);
    let mut bytes = vec![0u8; SIZE];
    rng.fill(&mut bytes);
    Arc::new(bytes)
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The colour the plugin derives from the file: its first, middle and last bytes.
fn colour(bytes: &[u8]) -> [u8; 3] {
    [bytes[0], bytes[bytes.len() / 2], bytes[bytes.len() - 1]]
}

const PLUGIN: &str = r#"
use scope_plugin_api::{Error, Frame, Load, Mode, Params, Pipeline, PipelineConfig, Registry};

/// Frames of one colour, read from the `palette` artifact.
pub struct ArtifactColour {
    width: u32,
    height: u32,
    rgb: [u8; 3],
}

impl Pipeline for ArtifactColour {
    fn config() -> PipelineConfig {
        PipelineConfig::new("artifact-colour", "Artifact colour")
            .description("Frames coloured by a data file")
            .modes(&[Mode::Text], Mode::Text)
    }

    fn load(load: &Load) -> Result<Self, Error> {
        let bytes = std::fs::read(load.artifact("palette")?)
            .map_err(|e| Error::new(format!("cannot read the palette: {e}")))?;
        let rgb = [bytes[0], bytes[bytes.len() / 2], bytes[bytes.len() - 1]];
        Ok(ArtifactColour { width: load.width, height: load.height, rgb })
    }

    fn process(&mut self, _input: Vec<Frame>, _params: &Params) -> Result<Vec<Frame>, Error> {
        Ok(vec![Frame::filled(self.width, self.height, self.rgb)])
    }
}

pub fn register_pipelines(registry: &mut Registry) {
    registry.register::<ArtifactColour>();
}
"#;

/// The plugin crate, declaring `palette` at `url` with `bytes`' checksum.
fn plugin(dir: &Path, url: &str, bytes: &[u8]) -> PathBuf {
    let crate_dir = dir.join("artifact-colour");
    fs_err::create_dir_all(crate_dir.join("src")).unwrap();
    fs_err::write(
        crate_dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"artifact-colour\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nscope-plugin-api = \"0.1\"\n\n[workspace]\n\n\
             [package.metadata.scope.artifacts]\n\
             palette = {{ url = \"{url}\", sha256 = \"{}\", size = {} }}\n",
            hex(bytes),
            bytes.len()
        ),
    )
    .unwrap();
    fs_err::write(crate_dir.join("src/lib.rs"), PLUGIN).unwrap();
    crate_dir
}

/// `scopectl` for `context` with the user cache at `cache` and a short
/// HTTP timeout (a stalled body is retried, resumed).
fn scopectl(context: &TestContext, cache: &Path) -> Command {
    let mut command = context.scopectl();
    command
        .env("SCOPE_CACHE_DIR", cache)
        .env("SCOPE_HTTP_TIMEOUT", "3")
        .env("SCOPE_HTTP_RETRIES", "5");
    command
}

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    out
}

/// The first pixel of two frames the active host makes through `run`.
fn first_pixel(context: &TestContext, cache: &Path) -> [u8; 3] {
    let out = ok(output(scopectl(context, cache).args([
        "run",
        "--",
        "run",
        "--pipeline",
        "artifact-colour",
        "--frames",
        "2",
        "--size",
        "8x8",
        "--output-format",
        "rgb24",
        "--output",
        "-",
    ])));
    assert_eq!(out.stdout.len(), 8 * 8 * 3 * 2, "{}", stderr(&out));
    [out.stdout[0], out.stdout[1], out.stdout[2]]
}

fn store_files(cache: &Path) -> Vec<PathBuf> {
    fs_err::read_dir(cache.join("artifacts/sha256"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn a_64_mb_artifact_resumes_through_faults_and_the_plugin_reads_it() {
    let context = TestContext::new();
    let cache = context.temp.path().join("cache");
    let bytes = palette();
    let server = FixtureRegistry::start();
    server.serve_raw("/palette.bin", bytes.clone(), Length::Exact);
    let proxy = FaultProxy::start(&server.address());
    let url = proxy.url(&format!("http://{}/palette.bin", server.address()));
    // A reset mid-body, a stall, a body shorter than its length: each
    // retry asks for the rest.
    proxy.inject_on("/palette.bin", Fault::ResetMidBody, 1);
    proxy.inject_on(
        "/palette.bin",
        Fault::Stall(std::time::Duration::from_secs(30)),
        1,
    );
    proxy.inject_on("/palette.bin", Fault::LongContentLength, 1);
    let crate_dir = plugin(context.temp.path(), &url, &bytes);

    ok(output(
        scopectl(&context, &cache).arg("install").arg(&crate_dir),
    ));
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/palette.bin Range: bytes=")),
        "no resumed request: {requests:?}"
    );
    assert_eq!(proxy.pending(), 0, "every fault was met");
    // Verified, stored once under its checksum, read-only, nothing partial.
    let stored = cache.join("artifacts/sha256").join(hex(&bytes));
    assert_eq!(fs_err::read(&stored).unwrap(), *bytes);
    assert!(fs_err::metadata(&stored).unwrap().permissions().readonly());
    assert!(!cache.join("artifacts/partial").join(hex(&bytes)).exists());
    // The lock records it.
    let lock = fs_err::read_to_string(context.home().join("resolved.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "[[artifact]]\nplugin = \"artifact-colour\"\nname = \"palette\"\nsha256 = \"{}\"\nsize = {SIZE}\nurl = \"{url}\"\n",
            hex(&bytes)
        )),
        "{lock}"
    );
    // The plugin read it through the SDK: its frames are the file's colour.
    assert_eq!(first_pixel(&context, &cache), colour(&bytes));
}

#[test]
fn a_corrupted_artifact_is_refused_and_nothing_is_kept() {
    let context = TestContext::new();
    let cache = context.temp.path().join("cache");
    let bytes = palette();
    let mut corrupted = (*bytes).clone();
    corrupted[SIZE / 3] ^= 0x40;
    let server = FixtureRegistry::start();
    server.serve_raw("/palette.bin", Arc::new(corrupted.clone()), Length::Exact);
    let url = format!("http://{}/palette.bin", server.address());
    let crate_dir = plugin(context.temp.path(), &url, &bytes);

    let out = output(scopectl(&context, &cache).arg("install").arg(&crate_dir));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    for says in [
        "artifact `palette` of plugin `artifact-colour` could not be fetched (nothing was kept)",
        &format!(
            "has sha256 {}, but the plugin declares {}",
            hex(&corrupted),
            hex(&bytes)
        ),
    ] {
        assert!(text.contains(says), "`{says}` in:\n{text}");
    }
    assert!(!context.home().join("current").exists(), "no generation");
    assert!(
        store_files(&cache).is_empty(),
        "nothing under the expected name"
    );
    assert!(!cache.join("artifacts/partial").join(hex(&bytes)).exists());
}

#[test]
fn homes_and_generations_share_one_copy_gc_frees_it_only_when_nothing_pins_it_and_offline_works() {
    let first = TestContext::new();
    let second = TestContext::new();
    let cache = first.temp.path().join("cache");
    let bytes = palette();
    let server = FixtureRegistry::start();
    server.serve_raw("/palette.bin", bytes.clone(), Length::Exact);
    let url = format!("http://{}/palette.bin", server.address());
    let crate_dir = plugin(first.temp.path(), &url, &bytes);

    // Two homes, three generations, one copy.
    ok(output(
        scopectl(&first, &cache).arg("install").arg(&crate_dir),
    ));
    ok(output(scopectl(&first, &cache).args([
        "reload",
        "artifact-colour",
        "--force",
    ])));
    ok(output(
        scopectl(&second, &cache).arg("install").arg(&crate_dir),
    ));
    let downloads = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("/palette.bin"))
        .count();
    assert_eq!(downloads, 1, "fetched once for every home");
    assert_eq!(store_files(&cache).len(), 1);
    let store_bytes: u64 = store_files(&cache)
        .iter()
        .map(|f| fs_err::metadata(f).unwrap().len())
        .sum();
    assert_eq!(store_bytes, SIZE as u64);

    // A fresh machine: `fetch` fills its own store while the server is
    // up; with the server gone, it syncs the committed files, frozen.
    let third = TestContext::new();
    let third_cache = third.temp.path().join("cache");
    fs_err::create_dir_all(third.home()).unwrap();
    for file in ["plugins.toml", "resolved.lock"] {
        fs_err::copy(first.home().join(file), third.home().join(file)).unwrap();
    }
    ok(output(scopectl(&third, &third_cache).arg("fetch")));
    drop(server);
    ok(output(
        scopectl(&third, &third_cache).args(["sync", "--frozen"]),
    ));
    assert_eq!(first_pixel(&third, &third_cache), colour(&bytes));
    // A machine whose store lacks it is told what is missing.
    let empty = third.temp.path().join("empty-cache");
    let refused = output(scopectl(&third, &empty).args(["build", "--force", "--frozen"]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(&format!(
            "lacks `palette` of artifact-colour (sha256 {})",
            hex(&bytes)
        )),
        "{}",
        stderr(&refused)
    );

    // Uninstalled from one home and collected: the other still pins it.
    ok(output(
        scopectl(&first, &cache).args(["uninstall", "artifact-colour"]),
    ));
    ok(output(scopectl(&first, &cache).args(["gc", "--keep", "0"])));
    assert_eq!(store_files(&cache).len(), 1, "the second home pins it");
    // Uninstalled from both: freed, and gc says so.
    ok(output(
        scopectl(&second, &cache).args(["uninstall", "artifact-colour"]),
    ));
    let collected = ok(output(
        scopectl(&second, &cache).args(["gc", "--keep", "0"]),
    ));
    assert!(
        stderr(&collected).contains("Removed 1 artifact(s) no generation of any home pins"),
        "{}",
        stderr(&collected)
    );
    assert!(store_files(&cache).is_empty());
}

#[test]
fn pushed_generations_carry_the_artifact_once_and_an_import_verifies_it() {
    let context = TestContext::new();
    let cache = context.temp.path().join("cache");
    let bytes = palette();
    let server = FixtureRegistry::start();
    server.serve_raw("/palette.bin", bytes.clone(), Length::Exact);
    let url = format!("http://{}/palette.bin", server.address());
    let crate_dir = plugin(context.temp.path(), &url, &bytes);
    let registry = support::registry::Registry::start();

    ok(output(
        scopectl(&context, &cache).arg("install").arg(&crate_dir),
    ));
    let first = ok(output(
        scopectl(&context, &cache).args(["push", &registry.reference("scope/art:v1")]),
    ));
    assert!(!stderr(&first).contains("Reused"), "{}", stderr(&first));
    // A second generation with the same artifact: its 64 MB layer is
    // already in the repository and is not sent again.
    ok(output(scopectl(&context, &cache).args([
        "reload",
        "artifact-colour",
        "--force",
    ])));
    let second = ok(output(
        scopectl(&context, &cache).args(["push", &registry.reference("scope/art:v2")]),
    ));
    let reused = stderr(&second);
    let line = reused
        .lines()
        .find(|l| l.contains("Reused"))
        .unwrap_or_else(|| panic!("nothing reused:\n{reused}"));
    let megabytes: f64 = line
        .split_once("had (")
        .and_then(|(_, rest)| rest.split_once(" MB")?.0.parse().ok())
        .unwrap();
    assert!(megabytes >= SIZE as f64 / 1e6, "{line}");

    // A fresh machine, the artifact's server gone: the import verifies the
    // layer into its own store, and the plugin reads it.
    drop(server);
    let fresh = TestContext::new();
    let fresh_cache = fresh.temp.path().join("cache");
    ok(output(
        support::registry::elsewhere(&fresh, &fresh.home())
            .env("SCOPE_CACHE_DIR", &fresh_cache)
            .args(["import", &registry.reference("scope/art:v2")]),
    ));
    assert_eq!(
        fs_err::read(fresh_cache.join("artifacts/sha256").join(hex(&bytes))).unwrap(),
        *bytes
    );
    assert_eq!(first_pixel(&fresh, &fresh_cache), colour(&bytes));
}

#[test]
fn update_check_names_an_artifact_the_update_would_change() {
    let context = TestContext::new();
    let cache = context.temp.path().join("cache");
    let (old, new) = (vec![1u8; 4096], vec![2u8; 4096]);
    let server = FixtureRegistry::start();
    server.serve_raw("/old.bin", Arc::new(old.clone()), Length::Exact);
    server.serve_raw("/new.bin", Arc::new(new.clone()), Length::Exact);
    let address = server.address();
    let crate_dir = plugin(
        context.temp.path(),
        &format!("http://{address}/old.bin"),
        &old,
    );
    ok(output(
        scopectl(&context, &cache).arg("install").arg(&crate_dir),
    ));
    // The plugin's next version declares other bytes.
    plugin(
        context.temp.path(),
        &format!("http://{address}/new.bin"),
        &new,
    );

    let text = output(scopectl(&context, &cache).args(["update", "--check"]));
    assert_eq!(text.status.code(), Some(10), "{}", stderr(&text));
    let line = format!(
        "artifact `palette` of artifact-colour  changes: sha256 {}… -> sha256 {}…",
        &hex(&old)[..12],
        &hex(&new)[..12]
    );
    assert!(stdout(&text).contains(&line), "{}", stdout(&text));
    let json = output(scopectl(&context, &cache).args(["update", "--check", "--json"]));
    let document: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        document["artifacts"],
        serde_json::json!([{"plugin": "artifact-colour", "name": "palette",
                            "installed": hex(&old), "updated": hex(&new)}])
    );
    // A check fetches nothing.
    assert_eq!(store_files(&cache).len(), 1);
    assert!(!server.requests().iter().any(|r| r.starts_with("/new.bin")));
}

#[test]
fn a_mirror_by_hash_is_tried_first_and_declared_mirrors_after_the_url() {
    let context = TestContext::new();
    let cache = context.temp.path().join("cache");
    let bytes = vec![7u8; 10_000];
    let server = FixtureRegistry::start();
    let address = server.address();
    server.serve_raw(
        &format!("/by-hash/{}", hex(&bytes)),
        Arc::new(bytes.clone()),
        Length::Exact,
    );
    // The declared URL answers nothing (a closed port).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/palette.bin", closed.local_addr().unwrap());
    drop(closed);
    let crate_dir = plugin(context.temp.path(), &dead, &bytes);
    ok(output(
        scopectl(&context, &cache)
            .env(
                "SCOPE_ARTIFACT_MIRROR",
                format!("http://{address}/by-hash/"),
            )
            .env("SCOPE_HTTP_RETRIES", "0")
            .arg("install")
            .arg(&crate_dir),
    ));
    assert_eq!(server.requests(), [format!("/by-hash/{}", hex(&bytes))]);
    let lock = fs_err::read_to_string(context.home().join("resolved.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "url = \"http://{address}/by-hash/{}\"",
            hex(&bytes)
        )),
        "the lock records where the bytes came from: {lock}"
    );

    // Without the mirror, a declared mirror after the dead URL.
    let other = TestContext::new();
    let other_cache = other.temp.path().join("cache");
    server.serve_raw(
        "/mirror/palette.bin",
        Arc::new(bytes.clone()),
        Length::Exact,
    );
    let manifest = crate_dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replace(
            &format!("url = \"{dead}\""),
            &format!("url = \"{dead}\", mirrors = [\"http://{address}/mirror/palette.bin\"]"),
        ),
    )
    .unwrap();
    let out = ok(output(
        scopectl(&other, &other_cache)
            .env("SCOPE_HTTP_RETRIES", "0")
            .arg("install")
            .arg(&crate_dir),
    ));
    assert!(
        server
            .requests()
            .contains(&"/mirror/palette.bin".to_owned()),
        "{}",
        stderr(&out)
    );
    assert_eq!(first_pixel(&other, &other_cache), colour(&bytes));
}

/// `gc` in one home never frees an artifact another home has fetched for
/// a generation it is about to commit: the change holds the store's lock
/// from the fetch to the commit, and `gc` waits for it.
#[test]
fn gc_waits_for_a_change_between_fetching_an_artifact_and_committing_it() {
    let first = TestContext::new();
    let second = TestContext::new();
    let cache = first.temp.path().join("cache");
    let bytes = vec![9u8; 50_000];
    let server = FixtureRegistry::start();
    server.serve_raw("/palette.bin", Arc::new(bytes.clone()), Length::Exact);
    let url = format!("http://{}/palette.bin", server.address());
    let crate_dir = plugin(first.temp.path(), &url, &bytes);
    ok(output(
        scopectl(&first, &cache).arg("install").arg(&crate_dir),
    ));
    ok(output(
        scopectl(&first, &cache).args(["uninstall", "artifact-colour"]),
    ));

    // The second home stops between its build (artifact in the store) and
    // its commit; the first home's gc runs meanwhile.
    let mut installing = scopectl(&second, &cache)
        .env("SCOPE_FAILPOINT", "pause:after-build")
        .arg("install")
        .arg(&crate_dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = support::collect(installing.stderr.take().unwrap());
    support::wait_until(
        || String::from_utf8_lossy(&log.bytes.lock().unwrap()).contains("pausing"),
        || String::from_utf8_lossy(&log.bytes.lock().unwrap()).into_owned(),
    );
    let collected = ok(output(scopectl(&first, &cache).args(["gc", "--keep", "0"])));
    assert!(
        stderr(&collected).contains("waiting for the artifact store"),
        "gc says it waits: {}",
        stderr(&collected)
    );
    assert!(installing.wait().unwrap().success(), "{:?}", log.finish());
    assert_eq!(
        store_files(&cache).len(),
        1,
        "the second home's artifact was kept"
    );
    assert_eq!(first_pixel(&second, &cache), colour(&bytes));
}
