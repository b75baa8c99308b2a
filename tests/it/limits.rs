//! Resource limits at the level a user meets them: a plugin repository with
//! a great many files installs, and scopectl's peak resident memory stays
//! within twice what it read (the repository's pack) plus a fixed bound.
//!
//! `SCOPE_LIMIT_FILES` sets the file count (default 20,000, the short form
//! CI runs); `bench/limits.sh` runs 100,000.

use crate::support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{stderr, TestContext};

/// The fixed part of the bound: what scopectl holds for any install.
const FIXED_MIB: u64 = 64;

/// Makes a repository in `dir` holding the `invert` plugin and `files`
/// more files (each different) under `data/`, with `git fast-import`.
fn many_file_repo(dir: &Path, files: usize) {
    fs_err::create_dir_all(dir).unwrap();
    let init = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(init.success());
    let source = support::repo().join("fixtures/plugins/invert");
    let manifest = fs_err::read_to_string(source.join("Cargo.toml")).unwrap() + "\n[workspace]\n";
    let lib = fs_err::read_to_string(source.join("src/lib.rs")).unwrap();
    let mut stream = Vec::new();
    let mut blob = |mark: usize, data: &[u8]| {
        write!(stream, "blob\nmark :{mark}\ndata {}\n", data.len()).unwrap();
        stream.extend_from_slice(data);
        stream.push(b'\n');
    };
    blob(1, manifest.as_bytes());
    blob(2, lib.as_bytes());
    for n in 0..files {
        blob(3 + n, format!("frame table {n}\n").as_bytes());
    }
    write!(
        stream,
        "commit refs/heads/main\ncommitter T <t@example.invalid> 0 +0000\ndata 5\nmany\n\
         M 100644 :1 Cargo.toml\nM 100644 :2 src/lib.rs\n"
    )
    .unwrap();
    for n in 0..files {
        writeln!(stream, "M 100644 :{} data/{}/{n}.txt", 3 + n, n / 1000).unwrap();
    }
    let mut import = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    import.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(import.wait().unwrap().success());
}

/// Runs `command`, sampling its peak resident set (`VmHWM`, which only
/// grows) until it exits: the output and the peak in KiB.
fn with_peak_rss(command: &mut Command) -> (Output, u64) {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(text) = fs_err::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok());
            match hwm {
                Some(kib) => peak = kib,
                None => break, // a zombie: it has exited
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let output = child.wait_with_output().unwrap();
    (output, sampler.join().unwrap())
}

fn size_of_dir(dir: &Path) -> u64 {
    fs_err::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                size_of_dir(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

#[test]
fn a_plugin_repository_of_many_files_installs_in_bounded_memory() {
    #[allow(clippy::disallowed_methods)] // a test switch, like the campaign's
    let files: usize = std::env::var("SCOPE_LIMIT_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let context = TestContext::new();
    let repo = context.temp.path().join("many");
    let started = Instant::now();
    many_file_repo(&repo, files);
    let made = started.elapsed();

    let started = Instant::now();
    let (out, peak_kib) = with_peak_rss(context.scopectl().args([
        "install",
        &format!("file://{}", repo.display()),
        "--no-build",
    ]));
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let read = size_of_dir(&repo.join(".git/objects"));
    let checkouts = context.home().join("cache/git/checkouts");
    let written = support::count_files(&checkouts);
    assert!(
        written > files,
        "the checkout has every file: {written} of {files}"
    );
    println!(
        "git repository of {files} files (objects {} KiB, made in {made:.1?}): installed in {took:.1?}, peak RSS {peak_kib} KiB",
        read / 1024
    );
    let bound = 2 * read / 1024 + FIXED_MIB * 1024;
    assert!(
        peak_kib < bound,
        "peak RSS {peak_kib} KiB is over 2 x {} KiB read + {FIXED_MIB} MiB",
        read / 1024
    );
}
