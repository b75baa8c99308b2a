//! Mutation fuzzing of every parser that reads outside input: valid seeds
//! (a y4m stream, `plugins.toml`, `resolved.lock`, plugin specs, `--set`
//! values, host command lines, control requests, index entries) are
//! mutated at random — bytes flipped, inserted, deleted, duplicated, and
//! tokens of each format spliced in — and each parser must answer with a
//! value or an error, never a panic, and never allocate for a size the
//! input only claims.
//!
//! `SCOPE_FUZZ_ITERATIONS` per target (default 3,000: the short form CI
//! runs) and `SCOPE_FUZZ_SEED` (printed, so a crash replays);
//! `bench/fuzz.sh` runs the long form.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Tokens that reach deeper than random bytes.
const TOKENS: &[&str] = &[
    "YUV4MPEG2 ",
    "W",
    "H",
    "F30:1",
    "C420jpeg",
    "C444",
    "Cmono",
    "Ip",
    "A1:1",
    "XCOLORRANGE=FULL",
    "FRAME",
    "\n",
    " ",
    "99999999999",
    "0",
    "-1",
    "4294967296",
    "[plugins]",
    "[registries]",
    "=",
    "\"",
    "{ path = \"/x\" }",
    "{ git = \"https://example.org/x\", tag = \"v1\" }",
    "{",
    "}",
    "version",
    "\"^1.2\"",
    "[[plugin]]",
    "[[crate]]",
    "commit",
    "#",
    "@",
    "#main",
    ":",
    "/",
    "..",
    "oci://",
    "git+",
    "=1.0.0",
    "KEY",
    "true",
    "1e309",
    "NaN",
    "é",
    "\u{0}",
    "../",
    "fx-1.0.0/",
    "ustar",
    "\"auths\"",
    "\"auth\"",
    "\"spec\"",
    "\"params\"",
];

struct Fuzzer {
    rng: fastrand::Rng,
    iterations: usize,
    seed: u64,
}

impl Fuzzer {
    #[allow(clippy::disallowed_methods)] // the fuzzer's own switches
    fn new() -> Fuzzer {
        let iterations = std::env::var("SCOPE_FUZZ_ITERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(3_000);
        let seed = std::env::var("SCOPE_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fastrand::u64(..));
        Fuzzer {
            rng: fastrand::Rng::with_seed(seed),
            iterations,
            seed,
        }
    }

    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..self.rng.usize(1..6) {
            let at = self.rng.usize(0..=data.len());
            match self.rng.u8(0..6) {
                0 if !data.is_empty() => {
                    let i = self.rng.usize(0..data.len());
                    data[i] ^= 1 << self.rng.u8(0..8);
                }
                1 => data.insert(at, self.rng.u8(..)),
                2 if at < data.len() => {
                    let end = (at + self.rng.usize(1..16)).min(data.len());
                    data.drain(at..end);
                }
                3 if at < data.len() => {
                    let end = (at + self.rng.usize(1..64)).min(data.len());
                    let copy = data[at..end].to_vec();
                    let to = self.rng.usize(0..=data.len());
                    data.splice(to..to, copy);
                }
                _ => {
                    let token = TOKENS[self.rng.usize(0..TOKENS.len())].as_bytes();
                    data.splice(at..at, token.iter().copied());
                }
            }
        }
        data
    }

    /// Feeds mutants of `seeds` to `target`; a panic fails the test with
    /// the input that caused it.
    fn run(&mut self, name: &str, seeds: &[Vec<u8>], mut target: impl FnMut(&[u8])) {
        for i in 0..self.iterations {
            let seed = &seeds[i % seeds.len()];
            let input = if i < seeds.len() {
                seed.clone()
            } else {
                self.mutate(seed)
            };
            if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
                panic!(
                    "{name} panicked on input {:?} (SCOPE_FUZZ_SEED={}, iteration {i})",
                    String::from_utf8_lossy(&input),
                    self.seed
                );
            }
        }
        eprintln!(
            "{name}: {} inputs, no panic (SCOPE_FUZZ_SEED={})",
            self.iterations, self.seed
        );
    }
}

fn y4m_seed() -> Vec<u8> {
    let mut stream = b"YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\n".to_vec();
    for i in 0..3u8 {
        stream.extend(b"FRAME\n");
        stream.extend([i; 12]);
    }
    stream
}

#[test]
fn the_y4m_readers_never_panic() {
    let mut fuzzer = Fuzzer::new();
    let seeds = vec![y4m_seed(), b"YUV4MPEG2 W1 H1 Cmono\nFRAME\n\x80".to_vec()];
    fuzzer.run("y4m decoder", &seeds, |input| {
        if let Ok(mut reader) = scope_host::video::y4m::Y4mReader::new(input) {
            for _ in 0..4 {
                if !matches!(reader.read_frame(), Ok(Some(_))) {
                    break;
                }
            }
        }
    });
    fuzzer.run("y4m framing", &seeds, |input| {
        if let Ok(mut reader) = scope_host::video::framing::FrameReader::y4m(input) {
            for _ in 0..4 {
                if !matches!(reader.read_frame(), Ok(Some(_))) {
                    break;
                }
            }
        }
    });
}

#[test]
fn a_claimed_frame_size_allocates_nothing_until_its_bytes_arrive() {
    // Beyond the limit: refused at the header.
    let huge = b"YUV4MPEG2 W100000 H100000 F30:1 C444\nFRAME\n".to_vec();
    let error = scope_host::video::y4m::Y4mReader::new(&huge[..])
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("100000"), "{error}");
    // Within the limit (16384x16384 4:4:4 claims 805 MB a frame) but only
    // ten bytes there: both readers say it is truncated, and no buffer
    // ever exceeds a few MiB.
    let claimed = b"YUV4MPEG2 W16384 H16384 F30:1 C444\nFRAME\n0123456789".to_vec();
    let ((decoded, framed), largest) = crate::support::alloc::largest_during(|| {
        let mut decoder = scope_host::video::y4m::Y4mReader::new(&claimed[..]).unwrap();
        let Err(decoded) = decoder.read_frame() else {
            panic!("a truncated frame is an error")
        };
        let decoded = decoded.to_string();
        let mut framing = scope_host::video::framing::FrameReader::y4m(&claimed[..]).unwrap();
        let Err(framed) = framing.read_frame() else {
            panic!("a truncated frame is an error")
        };
        let framed = framed.to_string();
        (decoded, framed)
    });
    assert!(decoded.contains("10 of its 805306368 bytes"), "{decoded}");
    assert!(framed.contains("truncated"), "{framed}");
    assert!(
        largest < 8 << 20,
        "a buffer of {largest} bytes for 10 bytes of input"
    );
}

#[test]
fn plugins_toml_and_resolved_lock_never_panic_and_edits_keep_comments() {
    let mut fuzzer = Fuzzer::new();
    let plugins = b"# my plugins\n[plugins]\nscope-invert = \"0.2\" # the example\nfx = { git = \"https://example.org/fx\", tag = \"v1.0.0\" }\nlocal = { path = \"/src/local\" }\nacme = { version = \"^1.2\", registry = \"acme\" }\n\n[registries]\nacme = \"sparse+https://example.org/index/\"\n".to_vec();
    let path = Path::new("plugins.toml");
    fuzzer.run("plugins.toml", std::slice::from_ref(&plugins), |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(mut doc) = scope_lockfile::PluginsToml::parse(path, &text) {
            let name = scope_name::PluginName::new("added").unwrap();
            doc.set(
                &name,
                scope_lockfile::PluginSpec::Path {
                    path: "/src/added".into(),
                },
            );
            let edited = doc.to_string();
            let reread = scope_lockfile::PluginsToml::parse(path, &edited)
                .unwrap_or_else(|e| panic!("an edit does not read back: {e}\n{edited}"));
            assert!(reread.plugins().contains_key(&name));
            for line in text.lines().filter(|l| l.trim_start().starts_with('#')) {
                assert!(
                    edited.contains(line.trim()),
                    "comment `{line}` lost:\n{edited}"
                );
            }
        }
    });
    let lock = b"version = 1\nhost = \"0.1.0\"\napi = \"0.1.0\"\n\n[[plugin]]\nname = \"scope-invert\"\nversion = \"0.2.0\"\nsource = \"registry+sparse+https://example.org/index/\"\nchecksum = \"abababababababababababababababababababababababababababababababab\"\ndependencies = []\n".to_vec();
    fuzzer.run("resolved.lock", &[lock], |input| {
        let _ = scope_lockfile::Lockfile::parse(
            Path::new("resolved.lock"),
            &String::from_utf8_lossy(input),
        );
    });
}

#[test]
fn specs_set_values_command_lines_and_requests_never_panic() {
    let mut fuzzer = Fuzzer::new();
    let specs: Vec<Vec<u8>> = [
        "scope-invert@0.2",
        "./my-fx",
        "https://example.org/me/fx@v1.0.0",
        "git+https://example.org/fx#main",
        "fx@=2.0.0-rc.1",
        "~/src/fx",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let flags = scopectl::spec::RefFlags::default();
    fuzzer.run("plugin specs", &specs, |input| {
        let _ = scopectl::spec::parse(&String::from_utf8_lossy(input), None, &flags);
    });

    let config = scope_plugin_api::PipelineConfig::new("fx", "Fx")
        .param(scope_plugin_api::Param::float("amount", 1.0).range(0.0, 1.0))
        .param(scope_plugin_api::Param::integer("n", 1).range(0, 10))
        .param(scope_plugin_api::Param::choice("mode", &["a", "b"], "a"))
        .param(scope_plugin_api::Param::bool("on", true));
    let values: Vec<Vec<u8>> = ["amount=0.5", "n=3", "mode=b", "on=false"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    fuzzer.run("--set values", &values, |input| {
        let text = String::from_utf8_lossy(input);
        let (key, raw) = text.split_once('=').unwrap_or((&text, ""));
        let _ = config.parse_value(key, raw);
    });

    let lines: Vec<Vec<u8>> = [
        "run --input - --pipeline invert --output - --set invert#1.intensity=0.5 --size 64x64 --fps 30:1",
        "pipelines --json",
        "self-check",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzzer.run("host command lines", &lines, |input| {
        let args = String::from_utf8_lossy(input)
            .split(' ')
            .map(std::ffi::OsString::from)
            .collect();
        let _ = scope_host::cli::parse(args);
    });

    let requests: Vec<Vec<u8>> = [
        r#"{"command":"status"}"#,
        r#"{"command":"set","params":["invert.intensity=0.5"]}"#,
        r#"{"command":"restart","params":[]}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzzer.run("control requests", &requests, |input| {
        let _ = serde_json::from_slice::<scopectl::supervise::control::Command>(input);
    });

    let entries = vec![br#"{"name":"fx","vers":"1.0.0","deps":[{"name":"scope-plugin-api","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"cksum":"ab","features":{},"yanked":false,"rust_version":null}"#.to_vec()];
    fuzzer.run("index entries", &entries, |input| {
        let _ = scope_registry_client::registry::as_cargo_reads(input);
    });
}

#[test]
fn docker_config_api_bodies_and_crate_archives_never_panic() {
    let mut fuzzer = Fuzzer::new();
    let registry = "127.0.0.1:5000";
    // `user:s3cret` in base64: the secret must never reach a message.
    let configs = vec![
        br#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpzM2NyZXQ="}},"credsStore":"x"}"#.to_vec(),
        br#"{"auths":{"other:1":{"auth":"eDp5"},"127.0.0.1:5000":{}}}"#.to_vec(),
    ];
    let path = Path::new("config.json");
    fuzzer.run("docker config.json", &configs, |input| {
        let text = String::from_utf8_lossy(input);
        if let Err(err) = scopectl::oci::registry::docker_credentials(&text, registry, path) {
            let message = format!("{err:#}");
            assert!(!message.contains("s3cret"), "a secret in {message}");
            assert!(message.contains("config.json"), "{message}");
        }
    });

    use scopectl::serve::bodies;
    let api: Vec<Vec<u8>> = [
        r#"{"spec":"./my-fx","dry_run":true}"#,
        r#"{"spec":"https://example.org/fx","tag":"v1"}"#,
        r#"{"names":["fx"]}"#,
        r#"{"to":3}"#,
        r#"{"ref":"oci://127.0.0.1:5000/scope/set:v1"}"#,
        r#"{"params":{"invert.intensity":0.5,"mode":"b"}}"#,
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let config = scope_plugin_api::PipelineConfig::new("fx", "Fx")
        .param(scope_plugin_api::Param::float("intensity", 1.0).range(0.0, 1.0))
        .param(scope_plugin_api::Param::choice("mode", &["a", "b"], "a"));
    let flags = scopectl::spec::RefFlags::default();
    fuzzer.run("HTTP API bodies", &api, |input| {
        let refused = |e: String| assert!(e.starts_with("bad request body: "), "{e}");
        match bodies::read::<bodies::Install>(input) {
            Ok(body) => {
                let _ = scopectl::spec::parse(&body.spec, body.registry.as_deref(), &flags);
            }
            Err(e) => refused(e),
        }
        match bodies::read::<bodies::Import>(input) {
            Ok(body) => {
                let _ = scopectl::oci::registry::Target::parse(&body.reference);
            }
            Err(e) => refused(e),
        }
        match bodies::read::<bodies::Params>(input) {
            Ok(body) => {
                for set in body.sets() {
                    let (key, raw) = set.split_once('=').expect("KEY=VALUE");
                    let key = key.rsplit('.').next().unwrap_or(key);
                    let _ = config.parse_value(key, raw);
                }
            }
            Err(e) => refused(e),
        }
        let _ = bodies::read::<bodies::Update>(input).map_err(refused);
        let _ = bodies::read::<bodies::Rollback>(input).map_err(refused);
        let _ = bodies::read::<bodies::Nothing>(input).map_err(refused);
    });

    let scratch = tempfile::tempdir().unwrap();
    fuzzer.run("`.crate` unpacking", &[crate_seed()], |tar| {
        let root = tempfile::tempdir_in(scratch.path()).unwrap();
        let archive = root.path().join("fx-1.0.0.crate");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, tar).unwrap();
        fs_err::write(&archive, gz.finish().unwrap()).unwrap();
        let destination = root.path().join("out/fx-1.0.0");
        let result =
            scope_registry_client::unpack::unpack_crate(&archive, "fx", "1.0.0", &destination);
        // Nothing outside the destination, no staging left, and a
        // destination only when the whole archive was accepted.
        let mut top: Vec<String> = names(root.path());
        top.sort();
        assert!(
            top == ["fx-1.0.0.crate", "out"] || top == ["fx-1.0.0.crate"],
            "{top:?}"
        );
        let out = names(&root.path().join("out"));
        assert_eq!(out.is_empty(), result.is_err(), "{out:?} after {result:?}");
        assert!(out.is_empty() || out == ["fx-1.0.0"], "{out:?}");
    });
}

fn names(dir: &Path) -> Vec<String> {
    fs_err::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// An uncompressed `.crate` tar: the mutations land in its headers and
/// paths rather than in gzip's checksums.
fn crate_seed() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, contents: &[u8], kind: tar::EntryType| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, path, contents).unwrap();
    };
    add("fx-1.0.0/", b"", tar::EntryType::Directory);
    add(
        "fx-1.0.0/Cargo.toml",
        b"[package]\nname = \"fx\"\nversion = \"1.0.0\"\n",
        tar::EntryType::Regular,
    );
    add(
        "fx-1.0.0/src/lib.rs",
        b"pub fn f() {}\n",
        tar::EntryType::Regular,
    );
    tar.into_inner().unwrap()
}
