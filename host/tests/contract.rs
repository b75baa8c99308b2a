//! The frame contract, enforced: whatever the `chaos` test plugin does
//! (`fixtures/test-plugins/chaos`, included here as a module), every input
//! frame comes out exactly once — processed, or unchanged when its plugin
//! failed — the plugin is named, and the exit status is non-zero.

mod support;

#[path = "../../fixtures/test-plugins/chaos/src/lib.rs"]
mod chaos;

use std::sync::atomic::Ordering::SeqCst;

use scope_host::Plugin;
use support::{host, rgb_frames};

const CHAOS: Plugin = Plugin {
    name: "chaos",
    version: "0.1.0",
    register: chaos::register_pipelines,
    artifacts: &[],
};

const SIZE: &str = "8x6";
const FRAME_BYTES: usize = 8 * 6 * 3;

/// The test pattern's first `frames` frames, as the host reads them.
fn testsrc(frames: u32) -> Vec<Vec<u8>> {
    let out = host(
        &[CHAOS],
        &format!(
            "run --input testsrc --size {SIZE} --frames {frames} --pipeline chaos --set invert=false --output-format rgb24"
        ),
        vec![],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    rgb_frames(&out.stdout, FRAME_BYTES)
}

fn inverted(frame: &[u8]) -> Vec<u8> {
    frame.iter().map(|b| 255 - b).collect()
}

/// `chaos` with `fault` from frame `at`, over 20 frames of the pattern.
fn run(fault: &str, at: u32, extra: &str) -> (i32, Vec<Vec<u8>>, String) {
    let out = host(
        &[CHAOS],
        &format!(
            "run --input testsrc --size {SIZE} --frames 20 --pipeline chaos --set fault={fault} --set at={at} --output-format rgb24 {extra}"
        ),
        vec![],
    );
    (out.status, rgb_frames(&out.stdout, FRAME_BYTES), out.stderr)
}

#[test]
fn every_fault_passes_the_frames_of_the_failed_call_through_unchanged() {
    let source = testsrc(20);
    for (fault, says) in [
        ("panic", "panicked at"),
        ("err", "failed: chaos fails at frame 7"),
        ("zero", "it returned 0 frame(s) for 1"),
        ("double", "it returned 2 frame(s) for 1"),
        ("resize", "it returned a 4x3 frame where it declared 8x6"),
        ("hang", "did not return within 0.5 s (--frame-timeout)"),
    ] {
        let (status, frames, stderr) = run(fault, 7, "--frame-timeout 0.5");
        assert_eq!(frames.len(), 20, "{fault}: every frame out once\n{stderr}");
        for (i, (out, original)) in frames.iter().zip(&source).enumerate() {
            let expected = if i < 6 {
                inverted(original)
            } else {
                original.clone()
            };
            assert!(
                *out == expected,
                "{fault}: frame {} is not {}\n{stderr}",
                i + 1,
                if i < 6 {
                    "processed"
                } else {
                    "the input, unchanged"
                }
            );
        }
        assert_eq!(status, 1, "{fault}: a broken contract fails the run");
        assert!(
            stderr.contains("pipeline `chaos`") && stderr.contains(says),
            "{fault}: {stderr}"
        );
        assert!(
            stderr.contains("(at frame 7); it was unloaded"),
            "{fault}: {stderr}"
        );
        assert!(
            stderr.contains("14 passed through unprocessed"),
            "{fault}: {stderr}"
        );
    }
}

#[test]
fn a_well_behaved_run_processes_every_frame_and_exits_0() {
    let source = testsrc(20);
    let (status, frames, stderr) = run("none", 7, "");
    assert_eq!(status, 0, "{stderr}");
    let expected: Vec<Vec<u8>> = source.iter().map(|f| inverted(f)).collect();
    assert_eq!(frames, expected);
    assert!(!stderr.contains("passed through"), "{stderr}");
}

#[test]
fn a_batch_cut_short_by_the_end_of_the_stream_goes_through_finish() {
    // Batches of 4 over 10 frames: two calls, then `finish` with 2 frames,
    // whose default passes them on unchanged.
    let source = testsrc(10);
    let out = host(
        &[CHAOS],
        &format!(
            "run --input testsrc --size {SIZE} --frames 10 --pipeline chaos --set batch=4 --output-format rgb24"
        ),
        vec![],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let frames = rgb_frames(&out.stdout, FRAME_BYTES);
    assert_eq!(frames.len(), 10, "{}", out.stderr);
    for (i, (out, original)) in frames.iter().zip(&source).enumerate() {
        let expected = if i < 8 {
            inverted(original)
        } else {
            original.clone()
        };
        assert!(*out == expected, "frame {}", i + 1);
    }
}

#[test]
fn the_timeout_can_be_turned_off_and_is_refused_when_malformed() {
    let (status, frames, stderr) = run("hang", 3, "--set hang_seconds=1 --frame-timeout 0");
    assert_eq!(
        status, 0,
        "no deadline: the slow call is waited for\n{stderr}"
    );
    assert_eq!(frames.len(), 20);
    let out = host(
        &[CHAOS],
        "run --pipeline chaos --frame-timeout soon",
        vec![],
    );
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("invalid value `soon` for --frame-timeout"),
        "{}",
        out.stderr
    );
}

/// Writes each frame's index into its bytes, and fails when its time is
/// not `index / 25` s; takes two frames a call.
struct Stamp;

impl scope_plugin_api::Pipeline for Stamp {
    fn config() -> scope_plugin_api::PipelineConfig {
        scope_plugin_api::PipelineConfig::new("stamp", "Stamp")
    }
    fn load(_: &scope_plugin_api::Load) -> Result<Self, scope_plugin_api::Error> {
        Ok(Stamp)
    }
    fn prepare(&mut self, _: &scope_plugin_api::Params) -> scope_plugin_api::Requirements {
        scope_plugin_api::Requirements::frames(2)
    }
    fn process(
        &mut self,
        input: Vec<scope_plugin_api::Frame>,
        _: &scope_plugin_api::Params,
    ) -> Result<Vec<scope_plugin_api::Frame>, scope_plugin_api::Error> {
        let mut output = Vec::new();
        for mut frame in input {
            let expected = std::time::Duration::from_millis(40 * frame.index());
            if frame.time() != expected {
                return Err(scope_plugin_api::Error::new(format!(
                    "frame {} at {:?}",
                    frame.index(),
                    frame.time()
                )));
            }
            let index = frame.index() as u8;
            frame.data_mut().fill(index);
            // New frames lose their timing; the host gives it back.
            output.push(scope_plugin_api::Frame::from_rgb(8, 6, frame.into_data())?);
        }
        Ok(output)
    }
}

#[test]
fn frames_carry_their_index_and_time_and_outputs_keep_their_inputs() {
    const STAMP: Plugin = Plugin {
        name: "stamp",
        version: "0.1.0",
        register: |r| r.register::<Stamp>(),
        artifacts: &[],
    };
    // `stamp` twice: the second sees the timing the first's new frames got
    // back from the host.
    let out = host(
        &[STAMP],
        &format!(
            "run --input testsrc --size {SIZE} --frames 6 --fps 25 --pipeline stamp --pipeline stamp --output-format rgb24"
        ),
        vec![],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let firsts: Vec<u8> = rgb_frames(&out.stdout, FRAME_BYTES)
        .iter()
        .map(|f| f[0])
        .collect();
    assert_eq!(firsts, [0, 1, 2, 3, 4, 5], "{}", out.stderr);
}

/// Text mode: flat frames numbered from 0.
struct Flat {
    next: u8,
    size: (u32, u32),
}

impl scope_plugin_api::Pipeline for Flat {
    fn config() -> scope_plugin_api::PipelineConfig {
        scope_plugin_api::PipelineConfig::new("flat", "Flat").modes(
            &[scope_plugin_api::Mode::Text],
            scope_plugin_api::Mode::Text,
        )
    }
    fn load(load: &scope_plugin_api::Load) -> Result<Self, scope_plugin_api::Error> {
        Ok(Flat {
            next: 0,
            size: (load.width, load.height),
        })
    }
    fn process(
        &mut self,
        _: Vec<scope_plugin_api::Frame>,
        _: &scope_plugin_api::Params,
    ) -> Result<Vec<scope_plugin_api::Frame>, scope_plugin_api::Error> {
        let v = self.next;
        self.next += 1;
        Ok(vec![scope_plugin_api::Frame::filled(
            self.size.0,
            self.size.1,
            [v, v, v],
        )])
    }
}

#[test]
fn a_hang_after_a_generator_is_given_up_and_counted_for_the_right_stage() {
    const FLAT: Plugin = Plugin {
        name: "flat",
        version: "0.1.0",
        register: |r| r.register::<Flat>(),
        artifacts: &[],
    };
    let out = host(
        &[FLAT, CHAOS],
        &format!(
            "run --pipeline flat --pipeline chaos --size {SIZE} --frames 8 --set fault=hang --set at=3 --set hang_seconds=2 --frame-timeout 0.3 --output-format rgb24"
        ),
        vec![],
    );
    assert_eq!(out.status, 1, "{}", out.stderr);
    let firsts: Vec<u8> = rgb_frames(&out.stdout, FRAME_BYTES)
        .iter()
        .map(|f| f[0])
        .collect();
    assert_eq!(firsts, [255, 254, 2, 3, 4, 5, 6, 7], "{}", out.stderr);
    let chaos_line = out
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("chaos "))
        .unwrap_or_default();
    assert!(
        chaos_line.contains("6 passed through unprocessed") && chaos_line.contains("FAILED"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_summary_as_json_counts_frames_in_out_passed_and_lost_by_stage() {
    let (status, frames, stderr) = run("err", 7, "--summary-json");
    assert_eq!((status, frames.len()), (1, 20), "{stderr}");
    let line = stderr
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON summary: {stderr}"));
    assert!(
        line.starts_with(
            r#"{"version":1,"frames_in":20,"frames_out":20,"passed":14,"lost":0,"seconds":"#
        ),
        "{line}"
    );
    assert!(
        line.contains(r#"{"name":"chaos","frames":6,"passed":14,"failed":true}"#),
        "{line}"
    );
}

/// Set by the test once the run is over: the stalled call may return.
static RELEASED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Set by the stalled call when it returns.
static RETURNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Text mode: flat frames, and a third call that does not return until the
/// test says so (or a minute passed).
struct Stall {
    calls: u32,
}

impl scope_plugin_api::Pipeline for Stall {
    fn config() -> scope_plugin_api::PipelineConfig {
        scope_plugin_api::PipelineConfig::new("stall", "Stall").modes(
            &[scope_plugin_api::Mode::Text],
            scope_plugin_api::Mode::Text,
        )
    }
    fn load(_: &scope_plugin_api::Load) -> Result<Self, scope_plugin_api::Error> {
        Ok(Stall { calls: 0 })
    }
    fn process(
        &mut self,
        _: Vec<scope_plugin_api::Frame>,
        _: &scope_plugin_api::Params,
    ) -> Result<Vec<scope_plugin_api::Frame>, scope_plugin_api::Error> {
        self.calls += 1;
        if self.calls == 3 {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !RELEASED.load(SeqCst) && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            RETURNED.store(true, SeqCst);
        }
        Ok(vec![scope_plugin_api::Frame::new(8, 6)])
    }
}

#[test]
fn a_generator_past_the_deadline_ends_the_stream_named_and_failed() {
    const STALL: Plugin = Plugin {
        name: "stall",
        version: "0.1.0",
        register: |r| r.register::<Stall>(),
        artifacts: &[],
    };
    let out = host(
        &[STALL],
        &format!(
            "run --pipeline stall --size {SIZE} --frames 8 --frame-timeout 0.3 --output-format rgb24"
        ),
        vec![],
    );
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: pipeline `stall` did not return within 0.3 s (--frame-timeout) (at frame 3); it was unloaded"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(rgb_frames(&out.stdout, FRAME_BYTES).len(), 2);
    // The run did not wait for the call it gave up on.
    assert!(!RETURNED.load(SeqCst));
    RELEASED.store(true, SeqCst);
}
