//! Every frame accounted for through `scopectl run`, whatever a plugin
//! does: the `chaos` test plugin misbehaves between two good pipelines, and
//! the output still has every input frame once, or the run fails.

use crate::support;

use std::path::{Path, PathBuf};

use support::{output, stderr, TestContext};

/// A home with `invert` and `chaos`, and a 60-frame input.
fn setup(context: &TestContext) -> PathBuf {
    let out = output(
        context
            .scopectl()
            .arg("install")
            .arg(support::repo().join("fixtures/plugins/invert"))
            .arg(support::repo().join("fixtures/test-plugins/chaos")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let input = context.temp.path().join("in.y4m");
    support::testsrc(&input, "320x240", 60);
    input
}

/// `scopectl run` of `invert → chaos → invert` with `sets`; the exit code,
/// the frames out and what was said.
fn run(
    context: &TestContext,
    input: &Path,
    sets: &[&str],
    extra: &[&str],
) -> (Option<i32>, u64, String) {
    let video = context.temp.path().join("out.y4m");
    let _ = fs_err::remove_file(&video);
    let mut command = context.scopectl();
    command.args(["run", "--", "run", "--input"]).arg(input);
    for pipeline in ["invert", "chaos", "invert"] {
        command.args(["--pipeline", pipeline]);
    }
    for set in sets {
        command.args(["--set", &format!("chaos.{set}")]);
    }
    command.args(extra).arg("--output").arg(&video);
    let out = output(&mut command);
    let frames = if video.exists() && fs_err::metadata(&video).unwrap().len() > 0 {
        support::probe(&video, "nb_read_frames").parse().unwrap()
    } else {
        0
    };
    (out.status.code(), frames, stderr(&out))
}

#[test]
fn each_fault_keeps_every_frame_and_fails_the_run_naming_the_plugin() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let input = setup(&context);
    let (status, frames, said) = run(&context, &input, &["fault=none"], &[]);
    assert_eq!((status, frames), (Some(0), 60), "{said}");
    for fault in ["panic", "err", "short", "zero", "double", "resize", "hang"] {
        let sets = ["at=10", &format!("fault={fault}")];
        let (status, frames, said) = run(&context, &input, &sets, &["--frame-timeout", "1"]);
        assert_eq!(frames, 60, "{fault}: every frame out once\n{said}");
        assert_eq!(status, Some(1), "{fault}: {said}");
        assert!(said.contains("pipeline `chaos`"), "{fault}: {said}");
        assert!(
            said.contains("51 passed through unprocessed"),
            "{fault}: {said}"
        );
    }
}

#[test]
fn a_host_that_aborts_at_every_start_never_ends_a_short_stream_with_success() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let input = setup(&context);
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..50 {
        // Frames larger than the pipe can hold ten of: a new host dies at
        // its tenth frame while the frames the last one swallowed are still
        // being replayed to it.
        let (status, frames, said) = run(
            &context,
            &input,
            &["fault=abort", "at=10", "every=true"],
            &[],
        );
        assert!(
            frames == 60 || status != Some(0),
            "{frames} of 60 frames out, and exit 0:\n{said}"
        );
        // The host's last words name the plugin, and so does the restart.
        assert!(
            said.contains("scope-host: crashed in pipeline `chaos` of plugin chaos 0.1.0")
                && said.contains("(crashed in pipeline `chaos` of plugin chaos 0.1.0: "),
            "the crash is put on the plugin:\n{said}"
        );
        if frames < 60 {
            assert!(
                said.contains(&format!(
                    "with {frames} frames out: frame {} (counting from 1) never came out",
                    frames + 1
                )),
                "the run says where the stream stopped:\n{said}"
            );
        }
        *outcomes.entry((status, frames)).or_insert(0) += 1;
    }
    eprintln!("(exit status, frames out): runs = {outcomes:?}");
}

#[test]
fn ctl_status_names_the_unloaded_plugin_and_its_passed_frames() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let input = setup(&context);
    let mut command = context.scopectl();
    command.args(["run", "--", "run", "--input", "-"]);
    for pipeline in ["invert", "chaos", "invert"] {
        command.args(["--pipeline", pipeline]);
    }
    command.args([
        "--set",
        "chaos.fault=err",
        "--set",
        "chaos.at=10",
        "--output",
        "null",
    ]);
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, &fs_err::read(&input).unwrap()).unwrap();
    // The input stays open: the stream is live while its status is read.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        let out = output(context.scopectl().args(["ctl", "status", "--json"]));
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            if json["host"]["frames_out"] == 60 {
                break json;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stream did not flow"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let chaos = &status["host"]["stages"][1];
    assert_eq!(chaos["name"], "chaos", "{status}");
    assert_eq!(chaos["passed"], 51, "{status}");
    let text = support::stdout(&output(context.scopectl().args(["ctl", "status"])));
    assert!(
        text.contains("UNLOADED, 51 passed through unprocessed"),
        "{text}"
    );
    drop(stdin);
    let ended = child.wait().unwrap();
    assert_eq!(ended.code(), Some(1), "a broken contract fails the run");
}

/// A host that crashes mid-stream: the frames it swallowed are given to the
/// next host again — from the input file by offset, or from the pipes that
/// hold a piped input's frames — and the output is byte for byte the bare
/// host's output of the same chain without the crash.
#[test]
fn a_crashed_hosts_frames_are_given_again_intact_from_a_file_and_a_pipe() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let input = setup(&context);
    let chain = |command: &mut std::process::Command, fault: &str| {
        for pipeline in ["invert", "chaos", "invert"] {
            command.args(["--pipeline", pipeline]);
        }
        // The first host dies at its 40th frame; the next one never gets 40.
        command.args([
            "--set",
            &format!("chaos.fault={fault}"),
            "--set",
            "chaos.at=40",
        ]);
        command.args(["--output", "-"]);
    };
    let mut bare = std::process::Command::new(context.home().join("bin/scope-host"));
    bare.args(["run", "--input"]).arg(&input);
    chain(&mut bare, "none");
    let bare = output(&mut bare);
    assert!(bare.status.success(), "{}", stderr(&bare));

    let mut from_file = context.scopectl();
    from_file.args(["run", "--", "run", "--input"]).arg(&input);
    chain(&mut from_file, "abort");
    let from_file = output(&mut from_file);

    let mut from_pipe = context.scopectl();
    from_pipe.args(["run", "--", "run", "--input", "-"]);
    chain(&mut from_pipe, "abort");
    let from_pipe = support::output_fed(&mut from_pipe, fs_err::read(&input).unwrap());

    for (how, out) in [("a file", from_file), ("a pipe", from_pipe)] {
        let said = stderr(&out);
        assert!(out.status.success(), "from {how}: {said}");
        assert!(
            said.contains("crashed in pipeline `chaos`"),
            "from {how}: {said}"
        );
        assert!(
            out.stdout == bare.stdout,
            "from {how}: the output differs from the bare host's ({} and {} bytes)\n{said}",
            out.stdout.len(),
            bare.stdout.len()
        );
    }
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    fs_err::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = fs_err::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // `pid (comm) state ppid …`; comm may hold spaces, not `)`.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(1) == Some(&pid.to_string())
        })
        .collect()
}

/// `scopectl run` of `invert → chaos → invert` from the file `input` into
/// `video`, each host holding its tenth frame for `hang` seconds, and the
/// pid of its first host once that has the input file open (a host reads
/// a file input itself).
fn hanging_run_from_a_file(
    context: &TestContext,
    input: &Path,
    video: &Path,
    hang: &str,
) -> (std::process::Child, u32) {
    let mut command = context.scopectl();
    command.args(["run", "--", "run", "--input"]).arg(input);
    for pipeline in ["invert", "chaos", "invert"] {
        command.args(["--pipeline", pipeline]);
    }
    command.args(["--set", "chaos.fault=hang", "--set", "chaos.at=10"]);
    command.args([
        "--set",
        &format!("chaos.hang_seconds={hang}"),
        "--frame-timeout",
        "0",
    ]);
    let child = command
        .arg("--output")
        .arg(video)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = fs_err::canonicalize(input).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let host = loop {
        let reading = children_of(child.id()).into_iter().find(|host| {
            fs_err::read_dir(format!("/proc/{host}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|fd| fs_err::read_link(fd.path()).is_ok_and(|to| to == input))
        });
        if let Some(host) = reading {
            break host;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no host of the stream has the input file open"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (child, host)
}

#[test]
fn a_host_reads_a_file_input_itself_and_a_crash_replays_from_the_file() {
    support::require_ffmpeg();
    let context = TestContext::new();
    let input = setup(&context);
    let video = context.temp.path().join("out.y4m");
    let (child, host) = hanging_run_from_a_file(&context, &input, &video, "2");
    // Killed mid-stream: the next host is given the frames this one held
    // again, from the file.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(host as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        support::probe(&video, "nb_read_frames"),
        "60",
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_host_reading_a_file_input_hands_off_with_little_left_to_finish() {
    // Frames given by offset are tiny records: without a pipe that holds
    // one, the first host had the whole file queued, finished all of it
    // after the restart, and the new host never got a frame.
    support::require_ffmpeg();
    let context = TestContext::new();
    let input = setup(&context);
    let video = context.temp.path().join("out.y4m");
    let (child, _) = hanging_run_from_a_file(&context, &input, &video, "1");
    let restart = output(context.scopectl().args(["ctl", "restart"]));
    assert!(restart.status.success(), "{}", stderr(&restart));
    let out = child.wait_with_output().unwrap();
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("1 handoffs"), "{said}");
    assert_eq!(support::probe(&video, "nb_read_frames"), "60", "{said}");
}
