//! The harness holds a plugin to what the host holds it to.

#[path = "../../fixtures/test-plugins/chaos/src/lib.rs"]
mod chaos;

use scope_plugin_api::{Error, Frame, Load, Param, Params, Pipeline, PipelineConfig, Registry};
use scope_plugin_test::{assert_frames_close, frames, golden, psnr, Harness};

fn inverted(frame: &Frame) -> Frame {
    let data = frame.data().iter().map(|b| 255 - b).collect();
    Frame::from_rgb(frame.width(), frame.height(), data).unwrap()
}

fn chaos(sets: &[(&str, &str)]) -> Harness {
    let mut builder = Harness::builder(chaos::register_pipelines, "chaos").size(8, 6);
    for (key, value) in sets {
        builder = builder.param(key, value);
    }
    builder.load().unwrap()
}

#[test]
fn frames_go_through_and_come_out_in_order() {
    let input: Vec<Frame> = (0..5).map(|i| frames::pattern(8, 6, i)).collect();
    let out = chaos(&[]).run(input.clone()).unwrap();
    let expected: Vec<Frame> = input.iter().map(inverted).collect();
    assert_frames_close(&out, &expected, f64::INFINITY);
    let indexes: Vec<u64> = out.iter().map(Frame::index).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4]);
}

#[test]
fn a_frame_of_another_size_is_a_broken_contract() {
    let mut harness = chaos(&[("fault", "resize"), ("at", "2")]);
    harness.push(frames::solid(8, 6, [1, 2, 3])).unwrap();
    let error = harness.push(frames::solid(8, 6, [1, 2, 3])).unwrap_err();
    assert_eq!(
        error,
        "pipeline `chaos` broke the frame contract: it returned a 4x3 frame where it declared 8x6"
    );
    // Unloaded, as the host would.
    let again = harness.push(frames::solid(8, 6, [1, 2, 3])).unwrap_err();
    assert!(again.contains("was unloaded"), "{again}");
}

#[test]
fn another_number_of_frames_or_a_panic_is_a_broken_contract() {
    for (fault, says) in [
        ("double", "it returned 2 frame(s) for 1"),
        ("zero", "it returned 0 frame(s) for 1"),
        ("panic", "panicked at"),
        ("err", "failed: chaos fails at frame 1"),
    ] {
        let error = chaos(&[("fault", fault), ("at", "1")])
            .push(frames::solid(8, 6, [0, 0, 0]))
            .unwrap_err();
        assert!(error.contains(says), "{fault}: {error}");
    }
}

#[test]
fn batches_are_what_prepare_asks_for_and_finish_gets_the_rest() {
    let mut harness = chaos(&[("batch", "4")]);
    for i in 0..3 {
        harness.push(frames::pattern(8, 6, i)).unwrap();
    }
    assert!(harness.pull().is_none(), "no call before a batch of 4");
    harness.push(frames::pattern(8, 6, 3)).unwrap();
    let mut first = Vec::new();
    while let Some(frame) = harness.pull() {
        first.push(frame);
    }
    assert_eq!(first.len(), 4);
    harness.push(frames::pattern(8, 6, 4)).unwrap();
    let rest = harness.finish().unwrap();
    // The default finish passes the incomplete batch on unchanged.
    assert_eq!(rest.len(), 1);
    assert_eq!(psnr(&rest[0], &frames::pattern(8, 6, 4)), f64::INFINITY);
}

#[test]
fn runtime_parameters_change_between_frames_and_load_time_ones_do_not() {
    let mut harness = chaos(&[]);
    let frame = frames::gradient(8, 6);
    harness.push(frame.clone()).unwrap();
    harness.set("invert", "false").unwrap();
    harness.push(frame.clone()).unwrap();
    let out = harness.finish().unwrap();
    assert_eq!(psnr(&out[0], &inverted(&frame)), f64::INFINITY);
    assert_eq!(psnr(&out[1], &frame), f64::INFINITY);
    let refused = harness.set("batch", "2").unwrap_err();
    assert!(refused.contains("load-time"), "{refused}");
    let refused = harness.set("at", "-3").unwrap_err();
    assert!(refused.contains("`at`"), "{refused}");
}

/// Declares a default outside its own range.
struct BadDefault;

impl Pipeline for BadDefault {
    fn config() -> PipelineConfig {
        PipelineConfig::new("bad-default", "Bad default")
            .param(Param::integer("level", 300).range(0, 255))
    }
    fn load(_: &Load) -> Result<Self, Error> {
        Ok(BadDefault)
    }
    fn process(&mut self, input: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
        Ok(input)
    }
}

#[test]
fn a_bad_declaration_is_refused_at_load_as_the_host_refuses_it() {
    fn register(registry: &mut Registry) {
        registry.register::<BadDefault>();
    }
    let error = Harness::builder(register, "bad-default")
        .load()
        .err()
        .expect("refused");
    assert!(
        error.contains("pipeline `bad-default` is invalid: parameter `level`")
            && error.contains("300"),
        "{error}"
    );
    let unknown = Harness::builder(chaos::register_pipelines, "nope")
        .load()
        .err()
        .expect("refused");
    assert!(unknown.contains("the plugin registers chaos"), "{unknown}");
    let bad_value = Harness::builder(chaos::register_pipelines, "chaos")
        .param("fault", "melt")
        .load()
        .err()
        .expect("refused");
    assert!(bad_value.contains("fault"), "{bad_value}");
}

#[test]
#[allow(clippy::disallowed_methods)] // the crate keeps to std: no fs-err here
fn a_golden_file_is_written_once_then_compared() {
    let dir = std::env::temp_dir().join(format!("scope-golden-{}", std::process::id()));
    let path = dir.join("pattern.y4m");
    let frames: Vec<Frame> = (0..3).map(|i| frames::pattern(16, 8, i)).collect();
    golden(&path, &frames, 35.0);
    assert!(path.exists());
    golden(&path, &frames, 35.0);
    let other: Vec<Frame> = frames.iter().map(inverted).collect();
    let failed = std::panic::catch_unwind(|| golden(&path, &other, 35.0));
    assert!(failed.is_err(), "inverted frames are not the golden ones");
    let _ = std::fs::remove_dir_all(dir);
}
