//! Conformance: every index-line and `config.json` form cargo reads (its
//! documentation of the registry index format: v1 and v2 lines,
//! `features2`, `rust_version`, keys from later formats, and explicit
//! nulls for optional fields) reads here too. The corpus is in
//! `tests/index-forms/`.

use std::path::PathBuf;

use scope_registry_client::registry::as_cargo_reads;
use tame_index::index::IndexConfig;
use tame_index::IndexKrate;

fn corpus(suffix: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/index-forms");
    let mut files: Vec<(String, Vec<u8>)> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs_err::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus has {suffix} files");
    files
}

#[test]
fn every_index_line_form_reads() {
    for (name, bytes) in corpus(".jsonl") {
        let lines = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let krate = IndexKrate::from_slice(&as_cargo_reads(&bytes))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(krate.versions.len(), lines, "{name}");
    }
}

#[test]
fn every_config_form_reads() {
    for (name, bytes) in corpus(".json") {
        let config: IndexConfig = serde_json::from_slice(&as_cargo_reads(&bytes))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(config.dl.starts_with("https://example.org/"), "{name}");
    }
}

#[test]
fn the_forms_keep_what_they_say() {
    let bytes = fs_err::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/index-forms/explicit-nulls.jsonl"),
    )
    .unwrap();
    // The index library alone refuses explicit nulls; read as cargo does,
    // they mean "absent", and a dependency without a kind is a normal one.
    assert!(IndexKrate::from_slice(&bytes).is_err());
    let krate = IndexKrate::from_slice(&as_cargo_reads(&bytes)).unwrap();
    let dep = &krate.versions[0].deps[0];
    assert_eq!(dep.crate_name(), "scope-plugin-api");
    assert_eq!(dep.kind(), tame_index::krate::DependencyKind::Normal);
    let unknown = fs_err::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/index-forms/unknown-keys-and-rust-version.jsonl"),
    )
    .unwrap();
    let krate = IndexKrate::from_slice(&as_cargo_reads(&unknown)).unwrap();
    let version = &krate.versions[0];
    assert_eq!(version.rust_version.as_deref(), Some("1.70"));
    assert_eq!(version.deps[0].crate_name(), "renamed");
    // Nothing but nulls is touched.
    assert_eq!(as_cargo_reads(&unknown), unknown);
}
