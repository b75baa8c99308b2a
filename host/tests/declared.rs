//! What a pipeline declares, the host holds it to: an output size
//! (`Pipeline::output_size`), which the next pipeline is loaded for and
//! which a failed call's input is scaled to, and a ratio of frames out per
//! frame in (`PipelineConfig::changes_frame_count`), checked on every call
//! and at the end of the stream.

mod support;

use scope_host::Plugin;
use scope_plugin_api::{Error, Frame, Load, Param, Params, Pipeline, PipelineConfig};
use support::{host, rgb_frames};

/// Halves the frame size (every other pixel, as the host's own scaling),
/// inverted; panics at frame `at` when `fault=panic`.
struct Halve {
    seen: u64,
}

impl Pipeline for Halve {
    fn config() -> PipelineConfig {
        PipelineConfig::new("halve", "Halve")
            .param(Param::choice(
                "fault",
                &["none", "panic", "undeclared"],
                "none",
            ))
            .param(Param::integer("at", 1).range(1, 1000))
    }
    fn load(_: &Load) -> Result<Self, Error> {
        Ok(Halve { seen: 0 })
    }
    fn output_size(&self, load: &Load) -> (u32, u32) {
        (load.width / 2, load.height / 2)
    }
    fn process(&mut self, input: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, Error> {
        self.seen += 1;
        let faulty = self.seen == params.int("at") as u64;
        match params.str("fault") {
            "panic" if faulty => panic!("halve panics"),
            "undeclared" if faulty => return Ok(input),
            _ => {}
        }
        Ok(input.iter().map(halved_inverted).collect())
    }
}

fn halved_inverted(frame: &Frame) -> Frame {
    let (w, h) = (frame.width() / 2, frame.height() / 2);
    let mut data = Vec::new();
    for y in 0..h {
        for x in 0..w {
            data.extend(frame.pixel(x * 2, y * 2).map(|b| 255 - b));
        }
    }
    Frame::from_rgb(w, h, data).unwrap()
}

/// Declares two frames out per frame in and returns each frame twice;
/// from frame `at`, `fault=excess` returns it three times and `fault=hold`
/// returns nothing.
struct Twice {
    seen: u64,
}

impl Pipeline for Twice {
    fn config() -> PipelineConfig {
        PipelineConfig::new("twice", "Twice")
            .changes_frame_count(2, 1)
            .param(Param::choice("fault", &["none", "excess", "hold"], "none"))
            .param(Param::integer("at", 1).range(1, 1000))
    }
    fn load(_: &Load) -> Result<Self, Error> {
        Ok(Twice { seen: 0 })
    }
    fn process(&mut self, input: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, Error> {
        self.seen += 1;
        let copies = match params.str("fault") {
            _ if self.seen < params.int("at") as u64 => 2,
            "excess" => 3,
            "hold" => 0,
            _ => 2,
        };
        Ok(input
            .iter()
            .flat_map(|f| std::iter::repeat_n(f.clone(), copies))
            .collect())
    }
}

const PLUGIN: Plugin = Plugin {
    name: "declared",
    version: "0.1.0",
    register: |r| {
        r.register::<Halve>();
        r.register::<Twice>();
    },
    artifacts: &[],
};

/// The test pattern at 8x6, as the host reads it (through `twice`, every
/// other frame).
fn source(frames: u32) -> Vec<Frame> {
    let out = host(
        &[PLUGIN],
        &format!(
            "run --input testsrc --size 8x6 --frames {frames} --pipeline twice --output-format rgb24"
        ),
        vec![],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let frames = rgb_frames(&out.stdout, 8 * 6 * 3);
    frames
        .into_iter()
        .step_by(2)
        .map(|data| Frame::from_rgb(8, 6, data).unwrap())
        .collect()
}

fn run(args: &str) -> support::Outcome {
    host(
        &[PLUGIN],
        &format!("run --input testsrc --size 8x6 --frames 10 --output-format rgb24 {args}"),
        vec![],
    )
}

#[test]
fn a_declared_size_is_what_the_next_pipeline_is_loaded_for_and_what_comes_out() {
    let out = run("--pipeline halve --pipeline halve");
    assert_eq!(out.status, 0, "{}", out.stderr);
    let frames = rgb_frames(&out.stdout, 2 * 3);
    let expected: Vec<Vec<u8>> = source(10)
        .iter()
        .map(|f| halved_inverted(&halved_inverted(f)).data().to_vec())
        .collect();
    assert_eq!(frames, expected);
}

#[test]
fn a_failed_resizing_pipeline_passes_its_input_through_at_the_declared_size() {
    for (fault, says) in [
        ("panic", "panicked at"),
        (
            "undeclared",
            "it returned a 8x6 frame where it declared 4x3",
        ),
    ] {
        let out = run(&format!("--pipeline halve --set fault={fault} --set at=4"));
        assert_eq!(out.status, 1, "{fault}: {}", out.stderr);
        assert!(
            out.stderr.contains("pipeline `halve`") && out.stderr.contains(says),
            "{fault}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("7 passed through"), "{}", out.stderr);
        let frames = rgb_frames(&out.stdout, 4 * 3 * 3);
        assert_eq!(frames.len(), 10, "{fault}: every frame out once");
        for (i, (out, input)) in frames.iter().zip(source(10)).enumerate() {
            let processed = halved_inverted(&input);
            let expected = if i < 3 {
                processed.data().to_vec()
            } else {
                // Not inverted: the input, scaled as the host scales.
                processed.data().iter().map(|b| 255 - b).collect()
            };
            assert_eq!(*out, expected, "{fault}: frame {}", i + 1);
        }
    }
}

#[test]
fn a_size_nobody_can_use_is_refused_at_load() {
    struct Nothing;
    impl Pipeline for Nothing {
        fn config() -> PipelineConfig {
            PipelineConfig::new("nothing", "Nothing")
        }
        fn load(_: &Load) -> Result<Self, Error> {
            Ok(Nothing)
        }
        fn output_size(&self, _: &Load) -> (u32, u32) {
            (0, 6)
        }
        fn process(&mut self, input: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
            Ok(input)
        }
    }
    let plugin = Plugin {
        name: "nothing",
        version: "0.1.0",
        register: |r| {
            r.register::<Nothing>();
        },
        artifacts: &[],
    };
    let out = host(
        &[plugin],
        "run --input testsrc --frames 1 --pipeline nothing --output null",
        vec![],
    );
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("pipeline `nothing` failed to load: it declared an output size of 0x6"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_declared_ratio_is_kept_and_scales_the_output_rate() {
    let out = host(
        &[PLUGIN],
        "run --input testsrc --size 8x6 --frames 10 --fps 30 --pipeline twice --summary-json",
        vec![],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(b"YUV4MPEG2 W8 H6 F60:1 "),
        "{}",
        String::from_utf8_lossy(&out.stdout[..40])
    );
    assert!(
        out.stderr
            .contains(r#""frames_in":10,"frames_out":20,"passed":0,"lost":0"#),
        "{}",
        out.stderr
    );
}

#[test]
fn more_frames_than_declared_unloads_the_pipeline_and_passes_the_call_through() {
    let out = run("--pipeline twice --set fault=excess --set at=4 --summary-json");
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "pipeline `twice` broke the frame contract: it returned 9 frame(s) for 4 in so far, more than the 2 per 1 it declared (at frame 4)"
        ),
        "{}",
        out.stderr
    );
    // Three frames twice, then the other seven once each.
    assert_eq!(rgb_frames(&out.stdout, 8 * 6 * 3).len(), 6 + 7);
    assert!(
        out.stderr.contains(r#""passed":7,"lost":0"#),
        "{}",
        out.stderr
    );
}

#[test]
fn fewer_frames_than_declared_by_the_end_are_lost_and_named() {
    let out = run("--pipeline twice --set fault=hold --set at=8 --summary-json");
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "pipeline `twice` broke the frame contract: it returned 14 frame(s) for 10 in, where it declared 2 per 1 (6 lost)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(rgb_frames(&out.stdout, 8 * 6 * 3).len(), 14);
    assert!(out.stderr.contains(r#""lost":6"#), "{}", out.stderr);
    assert!(
        out.stderr.contains("error: 6 of 10 frames were lost"),
        "{}",
        out.stderr
    );
}
