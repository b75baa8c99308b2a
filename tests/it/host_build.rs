//! Building hosts from plugin crates, and the frame pipeline of a real host
//! checked against ffmpeg.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_metadata::MetadataCommand;
use scopectl::host_build::{Graph, HostBuilder};
use scopectl::plugin_crate::PluginCrate;
use scopectl::reporter::Silent;
use scopectl::settings::{BuildSettings, Profile};
use support::{output, repo, shared_target_dir, stderr};

fn builder(temp: &Path) -> HostBuilder {
    HostBuilder::new(
        temp,
        &BuildSettings {
            cargo: "cargo".into(),
            target_dir: Some(shared_target_dir()),
            shared_target_dir: None,
            profile: Profile::Dev,
            offline: true,
            cargo_home: Some(support::cargo_home()),
            // The library's own build, outside any sandbox; the CLI's is
            // tested in tests/it/sandbox.rs.
            rustup_home: None,
            environment: Vec::new(),
            sandbox: scopectl::policy::Sandbox::Off,
            sandbox_given: true,
            sandbox_unsupported: false,
        },
    )
}

fn plugin(relative: &str) -> PluginCrate {
    PluginCrate::read(&repo().join(relative)).expect("a readable plugin crate")
}

fn quiet() -> Silent {
    Silent
}

fn examples() -> Vec<PluginCrate> {
    ["color-generator", "invert", "temporal-blend"]
        .iter()
        .map(|name| plugin(&format!("fixtures/plugins/{name}")))
        .collect()
}

/// Builds a host with the example plugins and copies it out of the shared
/// target directory.
fn example_host(temp: &Path) -> PathBuf {
    let built = builder(temp)
        .build(&examples(), &Graph::Fresh, &quiet())
        .expect("the example host builds");
    let host = temp.join("scope-host");
    fs_err::copy(&built.binary, &host).unwrap();
    // Another test thread that forks while the copy's file is still open for
    // writing keeps it "busy" for a moment (ETXTBSY): wait until it runs.
    for _ in 0..100 {
        match Command::new(&host).arg("--version").output() {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => break,
        }
    }
    host
}

#[test]
fn a_plugin_that_does_not_compile_fails_the_build_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let plugins = vec![
        plugin("fixtures/plugins/invert"),
        plugin("fixtures/broken-plugins/does-not-compile"),
    ];
    let err = builder(temp.path())
        .build(&plugins, &Graph::Fresh, &quiet())
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.starts_with("plugin `does-not-compile` does not compile:"),
        "{text}"
    );
    assert!(
        text.contains("mismatched types"),
        "the compiler's diagnostics are shown: {text}"
    );
    assert!(text.contains("src/lib.rs"), "{text}");
}

#[test]
fn a_crate_without_the_api_dependency_is_not_a_plugin() {
    let refusals = [
        "fixtures/broken-plugins/not-a-plugin",
        "fixtures/no-such-dir",
        "fixtures",
    ]
    .map(|dir| {
        PluginCrate::read(&repo().join(dir))
            .unwrap_err()
            .to_string()
    })
    .join("\n")
    .replace(&repo().display().to_string(), "[REPO]");
    insta::assert_snapshot!("not_plugins", refusals);
}

#[test]
fn a_path_plugin_from_this_repository_shares_the_hosts_api_crate() {
    let temp = tempfile::tempdir().unwrap();
    let builder = builder(temp.path());
    let built = builder
        .build(
            &[plugin("fixtures/plugins/invert")],
            &Graph::Fresh,
            &quiet(),
        )
        .unwrap();
    let metadata = MetadataCommand::new()
        .manifest_path(builder.crate_dir.join("Cargo.toml"))
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .unwrap();
    let api: Vec<_> = metadata
        .packages
        .iter()
        .filter(|p| p.name.as_str() == "scope-plugin-api")
        .collect();
    assert_eq!(api.len(), 1, "one copy of the API crate: {api:#?}");
    assert!(
        api[0].manifest_path.as_str().contains("scope-sdk"),
        "the host's SDK copy, not the checkout's: {}",
        api[0].manifest_path
    );
    let check = output(Command::new(&built.binary).args(["self-check", "--json"]));
    assert!(check.status.success(), "{}", stderr(&check));
    let json: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(json["pipelines"], serde_json::json!(["invert"]));
    assert_eq!(json["plugins"][0]["name"], "scope-invert");
}

fn ffmpeg(args: &[&str]) {
    let out = output(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(args),
    );
    assert!(out.status.success(), "ffmpeg {args:?}: {}", stderr(&out));
}

/// The average PSNR ffmpeg measures between two videos.
fn psnr(a: &Path, b: &Path) -> f64 {
    let out = output(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-i"])
            .arg(a)
            .arg("-i")
            .arg(b)
            .args(["-lavfi", "psnr", "-f", "null", "-"]),
    );
    let text = stderr(&out);
    assert!(out.status.success(), "ffmpeg could not compare: {text}");
    let average = text
        .split("average:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no PSNR in: {text}"));
    average.parse().unwrap()
}

#[test]
fn invert_matches_ffmpeg_negate_and_ffmpeg_reads_the_output() {
    support::require_ffmpeg();
    let temp = tempfile::tempdir().unwrap();
    let host = example_host(temp.path());
    let dir = temp.path();
    let (input, reference, ours) = (dir.join("in.y4m"), dir.join("ref.y4m"), dir.join("out.y4m"));
    let input_s = input.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30",
        "-frames:v",
        "30",
        "-pix_fmt",
        "yuv420p",
        input_s,
    ]);
    ffmpeg(&[
        "-i",
        input_s,
        "-vf",
        "negate",
        "-pix_fmt",
        "yuv420p",
        reference.to_str().unwrap(),
    ]);

    let run = output(
        Command::new(&host)
            .args(["run", "--pipeline", "invert", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&ours),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("30 frames in"), "{}", stderr(&run));
    let db = psnr(&ours, &reference);
    assert!(db >= 35.0, "PSNR against ffmpeg's negate is {db:.2} dB");

    let refused_output = dir.join("refused.y4m");
    let refused = output(
        Command::new(&host)
            .args([
                "run",
                "--pipeline",
                "invert",
                "--set",
                "intensity=7",
                "--input",
            ])
            .arg(&input)
            .arg("--output")
            .arg(&refused_output),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused)
            .contains("pipeline `invert`: `intensity` must be between 0.0 and 1.0, got 7"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !refused_output.exists(),
        "refused before any frame: nothing was written"
    );
}

#[test]
fn the_host_reads_444_and_mono_as_ffmpeg_writes_them_and_keeps_odd_sizes() {
    support::require_ffmpeg();
    let temp = tempfile::tempdir().unwrap();
    let host = example_host(temp.path());
    for pix_fmt in ["yuv444p", "gray", "yuv420p"] {
        let input = temp.path().join(format!("{pix_fmt}.y4m"));
        let output_path = temp.path().join(format!("{pix_fmt}-out.y4m"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=101x77:rate=25",
            "-frames:v",
            "5",
            "-pix_fmt",
            pix_fmt,
            "-strict",
            "-1",
            input.to_str().unwrap(),
        ]);
        let run = output(
            Command::new(&host)
                .args([
                    "run",
                    "--pipeline",
                    "invert",
                    "--pipeline",
                    "temporal-blend",
                    "--set",
                    "window=2",
                    "--input",
                ])
                .arg(&input)
                .arg("--output")
                .arg(&output_path),
        );
        assert!(run.status.success(), "{pix_fmt}: {}", stderr(&run));
        assert_eq!(
            support::probe(&output_path, "width,height,pix_fmt,nb_read_frames"),
            "101,77,yuv420p,5",
            "{pix_fmt}: a window cut short by the end goes out through `finish`"
        );
    }
}

#[test]
fn reading_a_manifest_directly_agrees_with_cargo_metadata() {
    for dir in [
        "fixtures/plugins/color-generator",
        "fixtures/plugins/invert",
        "fixtures/plugins/temporal-blend",
        "fixtures/test-plugins/invert-twice",
        "fixtures/test-plugins/conflicts-with-invert",
    ] {
        let dir = fs_err::canonicalize(repo().join(dir)).unwrap();
        assert_eq!(
            PluginCrate::read(&dir).unwrap(),
            PluginCrate::read_with_cargo(&dir).unwrap(),
            "{}",
            dir.display()
        );
    }
}

/// The JSON a real host writes reads into scopectl's typed documents, and
/// writing those back gives the same JSON: a key renamed or added on one
/// side and not the other fails here.
#[test]
fn the_hosts_json_and_scopectls_documents_agree() {
    let temp = tempfile::tempdir().unwrap();
    let host = example_host(temp.path());
    let (ok, report) = scopectl::ops::probe::self_check(&host).unwrap();
    assert!(ok, "{report:?}");
    let written = output(Command::new(&host).args(["self-check", "--json"]));
    let raw: serde_json::Value = serde_json::from_slice(&written.stdout).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap(), raw);
    assert_eq!(
        report.pipelines,
        ["color-generator", "invert", "temporal-blend"]
    );

    let pipelines = scopectl::ops::probe::pipelines(&host).unwrap();
    let written = output(Command::new(&host).args(["pipelines", "--json"]));
    let raw: serde_json::Value = serde_json::from_slice(&written.stdout).unwrap();
    assert_eq!(serde_json::to_value(&pipelines).unwrap(), raw);
    let intensity = &pipelines.pipelines[1].params[0];
    assert_eq!(
        (intensity.key.as_str(), intensity.kind.as_str()),
        ("intensity", "float")
    );
}

/// The first line of a y4m file.
fn y4m_header(path: &Path) -> String {
    let bytes = fs_err::read(path).unwrap();
    let end = bytes.iter().position(|&b| b == b'\n').unwrap();
    String::from_utf8(bytes[..end].to_vec()).unwrap()
}

/// Full-range video (ffmpeg's `yuvj420p`, `XCOLORRANGE=FULL`) is read as
/// full range and written as full range, and interlacing and pixel aspect
/// pass through: a chain that changes nothing (invert at intensity 0) gives
/// back what ffmpeg gave it.
#[test]
fn full_range_interlacing_and_aspect_pass_through_as_ffmpeg_wrote_them() {
    support::require_ffmpeg();
    let temp = tempfile::tempdir().unwrap();
    let host = example_host(temp.path());
    let (input, ours) = (temp.path().join("full.y4m"), temp.path().join("out.y4m"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25",
        "-frames:v",
        "10",
        "-vf",
        "setfield=tff,setsar=2/1",
        "-pix_fmt",
        "yuvj420p",
        "-strict",
        "-1",
        input.to_str().unwrap(),
    ]);
    let header = y4m_header(&input);
    assert!(
        header.contains("XCOLORRANGE=FULL"),
        "ffmpeg wrote: {header}"
    );
    let run = output(
        Command::new(&host)
            .args([
                "run",
                "--pipeline",
                "invert",
                "--set",
                "intensity=0",
                "--input",
            ])
            .arg(&input)
            .arg("--output")
            .arg(&ours),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let written = y4m_header(&ours);
    for tag in [" It", " A2:1", " XCOLORRANGE=FULL"] {
        assert!(written.contains(tag), "{tag} kept: {written}");
    }
    // The samples came back within a step of the range conversion: as
    // ffmpeg's own full-range round trip, not clipped to 16-235.
    let db = psnr(&ours, &input);
    assert!(
        db >= 40.0,
        "PSNR against the full-range input is {db:.2} dB"
    );
}
