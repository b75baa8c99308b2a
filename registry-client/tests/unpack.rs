//! Hostile archives: each is refused, and a victim directory beside the
//! destination is left exactly as it was.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use scope_registry_client::unpack::{unpack_crate, UnpackError, COMPLETE_MARKER, MAX_ENTRIES};

/// Writes raw tar entries (name bytes as given, no validation) into a `.crate`.
struct Archive {
    builder: tar::Builder<GzEncoder<Vec<u8>>>,
}

impl Archive {
    fn new() -> Archive {
        Archive {
            builder: tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast())),
        }
    }

    fn entry(
        mut self,
        name: &str,
        kind: tar::EntryType,
        data: &[u8],
        link: Option<&str>,
    ) -> Archive {
        let mut header = tar::Header::new_old();
        let bytes = name.as_bytes();
        header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if let Some(link) = link {
            let bytes = link.as_bytes();
            header.as_old_mut().linkname[..bytes.len()].copy_from_slice(bytes);
        }
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &[u8]) -> Archive {
        self.entry(name, tar::EntryType::Regular, data, None)
    }

    fn write(self, path: &Path) {
        let gz = self.builder.into_inner().unwrap();
        fs_err::write(path, gz.finish().unwrap()).unwrap();
    }
}

struct Scene {
    _temp: tempfile::TempDir,
    archive: PathBuf,
    destination: PathBuf,
    victim: PathBuf,
}

fn scene() -> Scene {
    let temp = tempfile::tempdir().unwrap();
    let victim = temp.path().join("victim");
    fs_err::create_dir_all(&victim).unwrap();
    fs_err::write(victim.join("precious.txt"), b"do not touch").unwrap();
    Scene {
        archive: temp.path().join("fx-1.0.0.crate"),
        destination: temp.path().join("src").join("fx-1.0.0"),
        victim,
        _temp: temp,
    }
}

fn victim_listing(victim: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs_err::read_dir(victim)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs_err::read(&path).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

fn refused(scene: &Scene, expected: &str) {
    let before = victim_listing(&scene.victim);
    let err = unpack_crate(&scene.archive, "fx", "1.0.0", &scene.destination).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(expected), "{text:?} should say {expected:?}");
    assert!(text.contains("fx-1.0.0.crate"), "names the archive: {text}");
    assert_eq!(
        victim_listing(&scene.victim),
        before,
        "the victim directory is unchanged"
    );
    assert!(
        !scene.destination.exists(),
        "nothing is left at the destination"
    );
    let leftovers: Vec<_> = fs_err::read_dir(scene.destination.parent().unwrap())
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "no staging directory is left behind");
}

#[test]
fn a_well_formed_crate_unpacks_completely() {
    let s = scene();
    Archive::new()
        .file("fx-1.0.0/Cargo.toml", b"[package]\nname = \"fx\"\n")
        .file("fx-1.0.0/src/lib.rs", b"pub fn f() {}\n")
        .write(&s.archive);
    unpack_crate(&s.archive, "fx", "1.0.0", &s.destination).unwrap();
    assert_eq!(
        fs_err::read_to_string(s.destination.join("src/lib.rs")).unwrap(),
        "pub fn f() {}\n"
    );
    assert!(s.destination.join(COMPLETE_MARKER).is_file());
    // A second call finds it complete and leaves it alone.
    unpack_crate(&s.archive, "fx", "1.0.0", &s.destination).unwrap();
}

#[test]
fn an_interrupted_extraction_is_redone() {
    let s = scene();
    Archive::new()
        .file("fx-1.0.0/src/lib.rs", b"fresh")
        .write(&s.archive);
    fs_err::create_dir_all(s.destination.join("src")).unwrap();
    fs_err::write(s.destination.join("src/lib.rs"), b"half").unwrap();
    unpack_crate(&s.archive, "fx", "1.0.0", &s.destination).unwrap();
    assert_eq!(
        fs_err::read(s.destination.join("src/lib.rs")).unwrap(),
        b"fresh"
    );
}

#[test]
fn parent_directory_entries_are_refused() {
    let s = scene();
    Archive::new()
        .file("fx-1.0.0/../../victim/precious.txt", b"owned")
        .write(&s.archive);
    refused(&s, "leaves the archive's directory with `..`");
    let s = scene();
    Archive::new()
        .file("../victim/precious.txt", b"owned")
        .write(&s.archive);
    refused(&s, "`..`");
}

#[test]
fn absolute_paths_are_refused() {
    let s = scene();
    let target = s.victim.join("precious.txt");
    Archive::new()
        .file(target.to_str().unwrap(), b"owned")
        .write(&s.archive);
    refused(&s, "absolute path");
}

#[test]
fn a_symlink_followed_by_a_file_through_it_is_refused() {
    let s = scene();
    Archive::new()
        .entry(
            "fx-1.0.0/link",
            tar::EntryType::Symlink,
            b"",
            Some("../../victim"),
        )
        .file("fx-1.0.0/link/precious.txt", b"owned")
        .write(&s.archive);
    refused(&s, "is a link");
}

#[test]
fn a_hardlink_to_a_file_outside_is_refused() {
    let s = scene();
    let target = s.victim.join("precious.txt");
    Archive::new()
        .entry(
            "fx-1.0.0/hard",
            tar::EntryType::Link,
            b"",
            Some(target.to_str().unwrap()),
        )
        .write(&s.archive);
    refused(&s, "is a link");
}

#[test]
fn device_entries_are_refused() {
    let s = scene();
    Archive::new()
        .entry("fx-1.0.0/null", tar::EntryType::Char, b"", None)
        .write(&s.archive);
    refused(&s, "Char entry");
    let s = scene();
    Archive::new()
        .entry("fx-1.0.0/fifo", tar::EntryType::Fifo, b"", None)
        .write(&s.archive);
    refused(&s, "Fifo entry");
}

#[test]
fn duplicate_entries_are_refused() {
    let s = scene();
    Archive::new()
        .file("fx-1.0.0/src/lib.rs", b"checked")
        .file("fx-1.0.0/src/lib.rs", b"swapped")
        .write(&s.archive);
    refused(&s, "appears twice");
}

#[test]
fn entries_outside_the_crate_directory_are_refused() {
    let s = scene();
    Archive::new()
        .file("other-2.0.0/src/lib.rs", b"x")
        .write(&s.archive);
    refused(&s, "is not under `fx-1.0.0/`");
}

#[test]
fn a_small_archive_that_inflates_past_the_cap_is_refused() {
    let s = scene();
    // 1 GiB of zeros, streamed through the compressor: about 1 MB on disk.
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..16].copy_from_slice(b"fx-1.0.0/zeros.b");
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(1 << 30);
    header.set_mode(0o644);
    header.set_cksum();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(header.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&zeros).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    fs_err::write(&s.archive, gz.finish().unwrap()).unwrap();
    assert!(
        fs_err::metadata(&s.archive).unwrap().len() < 2 << 20,
        "a small archive"
    );
    refused(&s, "unpacks to more than 512 MiB");
}

#[test]
fn an_archive_with_too_many_entries_is_refused() {
    let s = scene();
    let mut archive = Archive::new();
    for i in 0..100_000 {
        archive = archive.file(&format!("fx-1.0.0/f{i}"), b"");
        if i > MAX_ENTRIES + 10 {
            break; // The cap is what matters; more only costs time.
        }
    }
    archive.write(&s.archive);
    refused(&s, &format!("more than {MAX_ENTRIES} entries"));
}

#[test]
fn a_corrupt_archive_is_an_error_naming_it() {
    let s = scene();
    fs_err::write(&s.archive, b"not gzip at all").unwrap();
    let err = unpack_crate(&s.archive, "fx", "1.0.0", &s.destination).unwrap_err();
    assert!(matches!(err, UnpackError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("fx-1.0.0.crate"));
    assert!(!s.destination.exists());
}
