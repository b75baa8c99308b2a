//! Embeds the sources of `scope-plugin-api`, `scope-host` and the example
//! plugins in the `scopectl` binary, so that an installed scopectl builds
//! hosts without a checkout of this repository.

// A build script reads cargo's environment and writes OUT_DIR: the house
// rules for the program do not apply to it.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    // The target scopectl is built for: hosts it builds are for the same
    // one, and a generation imported from elsewhere must be too.
    println!(
        "cargo:rustc-env=SCOPE_TARGET={}",
        env::var("TARGET").expect("set by cargo")
    );
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut out = String::new();
    embed(
        &mut out,
        "SDK",
        &root,
        &["plugin-api", "host", "plugin-test"],
        true,
    );
    let examples: Vec<String> = sorted_dirs(&root.join("fixtures/plugins"))
        .into_iter()
        .map(|d| format!("fixtures/plugins/{d}"))
        .collect();
    let examples: Vec<&str> = examples.iter().map(String::as_str).collect();
    embed(&mut out, "EXAMPLES", &root, &examples, false);
    let manifest = root.join("Cargo.toml");
    println!("cargo:rerun-if-changed={}", manifest.display());
    writeln!(
        out,
        "pub static WORKSPACE_MANIFEST: &str = include_str!({:?});",
        manifest.display().to_string()
    )
    .unwrap();
    let dest = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("embedded.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Writes `pub static NAME: &[(&str, &[u8])]`: every file of each crate's
/// `Cargo.toml` and `src/`, keyed by its path below `root` (or below the
/// crate's parent when `keep_prefix` is false).
fn embed(out: &mut String, name: &str, root: &Path, crates: &[&str], keep_prefix: bool) {
    writeln!(out, "pub static {name}: &[(&str, &[u8])] = &[").unwrap();
    for krate in crates {
        let dir = root.join(krate);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = vec![dir.join("Cargo.toml")];
        collect(&dir.join("src"), &mut files);
        for file in files {
            let relative = file.strip_prefix(root).expect("below the root");
            let key = if keep_prefix {
                relative.to_path_buf()
            } else {
                relative
                    .strip_prefix(Path::new(krate).parent().expect("nested"))
                    .expect("below the parent")
                    .to_path_buf()
            };
            let key = key
                .to_str()
                .expect("paths in this repository are UTF-8")
                .replace('\\', "/");
            writeln!(
                out,
                "    ({key:?}, include_bytes!({:?})),",
                file.display().to_string()
            )
            .unwrap();
        }
    }
    writeln!(out, "];").unwrap();
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in sorted_dirs_and_files(dir) {
        let path = dir.join(entry);
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn sorted_dirs(dir: &Path) -> Vec<String> {
    sorted_dirs_and_files(dir)
        .into_iter()
        .filter(|d| dir.join(d).join("Cargo.toml").is_file())
        .collect()
}

fn sorted_dirs_and_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .collect();
    names.sort();
    names
}
