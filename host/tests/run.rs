//! The host's commands, run in-process against plugins defined here.

mod support;

use scope_host::Plugin;
use scope_plugin_api::{
    Error, Frame, Load, Mode, Param, Params, Pipeline, PipelineConfig, Registry, Requirements,
};
use support::{host, rgb_frames};

/// Text mode: frames whose every byte is the frame number, or `level`.
struct Counter {
    next: u8,
    width: u32,
    height: u32,
}

impl Pipeline for Counter {
    fn config() -> PipelineConfig {
        PipelineConfig::new("counter", "Counter")
            .modes(&[Mode::Text], Mode::Text)
            .param(Param::integer("start", 0).range(0, 200).load_param())
    }
    fn load(load: &Load) -> Result<Self, Error> {
        Ok(Counter {
            next: load.params.int("start") as u8,
            width: load.width,
            height: load.height,
        })
    }
    fn process(&mut self, _: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
        let v = self.next;
        self.next = self.next.wrapping_add(1);
        Ok(vec![Frame::filled(self.width, self.height, [v, v, v])])
    }
}

/// Video mode: adds `offset` to every byte; takes `batch` frames per call.
struct Add {
    batch: usize,
    calls_seen: Vec<usize>,
}

impl Pipeline for Add {
    fn config() -> PipelineConfig {
        PipelineConfig::new("add", "Add")
            .param(Param::integer("offset", 1).range(-10, 10))
            .param(Param::integer("batch", 1).range(1, 8).load_param())
            .param(Param::choice("how", &["wrap", "clamp"], "clamp"))
    }
    fn load(load: &Load) -> Result<Self, Error> {
        Ok(Add {
            batch: load.params.int("batch") as usize,
            calls_seen: Vec::new(),
        })
    }
    fn prepare(&mut self, _: &Params) -> Requirements {
        Requirements::frames(self.batch)
    }
    fn process(&mut self, input: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, Error> {
        assert_eq!(
            input.len(),
            self.batch,
            "the host passes exactly input_size frames"
        );
        self.calls_seen.push(input.len());
        let offset = params.int("offset") as i16;
        Ok(input
            .into_iter()
            .map(|mut f| {
                for b in f.data_mut() {
                    *b = (i16::from(*b) + offset).clamp(0, 255) as u8;
                }
                f
            })
            .collect())
    }
}

/// Panics on its third frame.
struct Fragile(u32);

impl Pipeline for Fragile {
    fn config() -> PipelineConfig {
        PipelineConfig::new("fragile", "Fragile")
    }
    fn load(_: &Load) -> Result<Self, Error> {
        Ok(Fragile(0))
    }
    fn process(&mut self, input: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
        self.0 += 1;
        if self.0 == 3 {
            panic!("fragile broke");
        }
        Ok(input)
    }
}

fn register_counter(r: &mut Registry) {
    r.register::<Counter>();
}
fn register_add(r: &mut Registry) {
    r.register::<Add>();
}
fn register_fragile(r: &mut Registry) {
    r.register::<Fragile>();
}
fn register_panics(_: &mut Registry) {
    panic!("cannot find my model weights");
}

const COUNTER: Plugin = Plugin {
    name: "counter-plugin",
    version: "1.0.0",
    register: register_counter,
    artifacts: &[],
};
const ADD: Plugin = Plugin {
    name: "add-plugin",
    version: "0.3.0",
    register: register_add,
    artifacts: &[],
};
const FRAGILE: Plugin = Plugin {
    name: "fragile-plugin",
    version: "0.1.0",
    register: register_fragile,
    artifacts: &[],
};
const PANICS: Plugin = Plugin {
    name: "panics-plugin",
    version: "0.1.0",
    register: register_panics,
    artifacts: &[],
};
const ADD_AGAIN: Plugin = Plugin {
    name: "other-add",
    version: "2.0.0",
    register: register_add,
    artifacts: &[],
};

#[test]
fn a_text_pipeline_feeds_a_video_pipeline() {
    let out = host(
        &[COUNTER, ADD],
        "run --pipeline counter --pipeline add --frames 4 --size 4x2 --set offset=3 --set start=10 --output-format rgb24",
        vec![],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let frames = rgb_frames(&out.stdout, 4 * 2 * 3);
    let firsts: Vec<u8> = frames.iter().map(|f| f[0]).collect();
    assert_eq!(
        firsts,
        [13, 14, 15, 16],
        "start is load-time, offset is runtime"
    );
    assert!(out.stderr.contains("4 frames in"), "{}", out.stderr);
    assert!(out.stderr.contains("counter"), "{}", out.stderr);
}

#[test]
fn input_size_above_one_gets_exactly_that_many_frames() {
    let out = host(
        &[COUNTER, ADD],
        "run --pipeline counter --pipeline add --frames 7 --size 2x2 --set batch=3 --output-format rgb24",
        vec![],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    // Two full batches of three; the seventh frame cannot make a batch, and
    // goes to `finish`, whose default passes it on unchanged.
    let frames = rgb_frames(&out.stdout, 12);
    let firsts: Vec<u8> = frames.iter().map(|f| f[0]).collect();
    assert_eq!(firsts, [1, 2, 3, 4, 5, 6, 6], "{}", out.stderr);
}

#[test]
fn rgb24_round_trips_through_a_video_pipeline() {
    let input: Vec<u8> = (0..3 * 2 * 3 * 5).map(|i| (i % 200) as u8).collect();
    let out = host(
        &[ADD],
        "run --pipeline add --input - --input-format rgb24 --size 3x2 --set offset=0 --output-format rgb24",
        input.clone(),
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, input);
}

#[test]
fn y4m_output_reads_back_as_y4m_input() {
    let generated = host(
        &[COUNTER],
        "run --pipeline counter --frames 3 --size 6x4 --set start=100",
        vec![],
    );
    assert_eq!(generated.status, 0, "{}", generated.stderr);
    assert!(generated.stdout.starts_with(b"YUV4MPEG2 W6 H4 F30:1"));
    let out = host(
        &[ADD],
        "run --pipeline add --input - --output-format rgb24 --set offset=0",
        generated.stdout,
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let frames = rgb_frames(&out.stdout, 6 * 4 * 3);
    assert_eq!(frames.len(), 3);
    for (i, frame) in frames.iter().enumerate() {
        let want = 100 + i as u8;
        assert!(
            frame.iter().all(|b| b.abs_diff(want) <= 1),
            "frame {i}: {:?}",
            &frame[..3]
        );
    }
}

#[test]
fn bad_parameters_are_refused_before_any_frame() {
    let cases = [
        (
            "--set offset=11",
            "pipeline `add`: `offset` must be between -10 and 10, got 11",
        ),
        (
            "--set offset=lots",
            "pipeline `add`: `offset` must be an integer, got `lots`",
        ),
        (
            "--set ofset=1",
            "pipeline `add` has no parameter `ofset`; its parameters are `offset`, `batch`, `how`",
        ),
        (
            "--set how=wrapp",
            "`how` must be one of `wrap`, `clamp`, got `wrapp`",
        ),
        ("--set offset", "has no value"),
        (
            "--set nope.offset=1",
            "names pipeline `nope`, which is not in the chain",
        ),
    ];
    for (set, expected) in cases {
        let args = format!(
            "run --pipeline add --input testsrc --frames 2 --size 2x2 --output-format rgb24 {set}"
        );
        let out = host(&[ADD], &args, vec![]);
        assert_eq!(out.status, 2, "{set}");
        assert!(out.stdout.is_empty(), "{set}: no frame may be written");
        assert!(out.stderr.contains(expected), "{set}: {}", out.stderr);
    }
}

#[test]
fn parameters_shared_by_two_pipelines_need_a_prefix() {
    let args =
        "run --pipeline add --pipeline add --input testsrc --frames 1 --size 2x2 --output null";
    let out = host(&[ADD], &format!("{args} --set offset=1"), vec![]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr
            .contains("write `add#1.offset` or `add#2.offset`"),
        "each instance has its own address: {}",
        out.stderr
    );
    let out = host(&[ADD], &format!("{args} --set add.offset=1"), vec![]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    // `add.offset` sets both instances; `add#2.offset` only the second.
    let frames = |sets: &str| {
        let args = format!(
            "run --pipeline add --pipeline add --input testsrc --frames 1 --size 2x2 --output-format rgb24 {sets}"
        );
        let out = host(&[ADD], &args, vec![]);
        assert_eq!(out.status, 0, "{sets}: {}", out.stderr);
        out.stdout
    };
    let both = frames("--set add.offset=1");
    let one = frames("--set add#2.offset=1 --set add#1.offset=0");
    let none = frames("--set add.offset=0");
    assert_ne!(both, one);
    assert_ne!(one, none);
    let out = host(&[ADD], &format!("{args} --set add#3.offset=1"), vec![]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr
            .contains("the chain has 2 instance(s) of `add`; write `add#1` to `add#2`"),
        "{}",
        out.stderr
    );
}

#[test]
fn chains_that_cannot_work_are_refused() {
    let out = host(&[ADD], "run --pipeline add", vec![]);
    assert!(out.stderr.contains("needs input frames"), "{}", out.stderr);
    let out = host(
        &[COUNTER, ADD],
        "run --pipeline add --pipeline counter --input testsrc",
        vec![],
    );
    assert!(out.stderr.contains("put it first"), "{}", out.stderr);
    let out = host(&[COUNTER], "run --pipeline nothing", vec![]);
    assert!(
        out.stderr
            .contains("no pipeline `nothing` in this host; available: `counter`"),
        "{}",
        out.stderr
    );
    let out = host(&[COUNTER], "run --pipeline counter --prompt hello", vec![]);
    assert!(
        out.stderr
            .contains("no pipeline in the chain supports prompts"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_panicking_pipeline_is_unloaded_and_the_stream_goes_on() {
    let out = host(
        &[FRAGILE, ADD],
        "run --input testsrc --pipeline fragile --pipeline add --frames 5 --size 2x2 --output-format rgb24",
        vec![],
    );
    assert_eq!(out.status, 1, "a failure makes the exit status non-zero");
    assert!(
        out.stderr
            .contains("pipeline `fragile` panicked at host/tests/run.rs"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("fragile broke (at frame 3); it was unloaded"),
        "{}",
        out.stderr
    );
    // Frame 3 went through unchanged in place of the panicking call's
    // output, and so did the two after it: five frames out of five.
    assert_eq!(rgb_frames(&out.stdout, 12).len(), 5);
    assert!(
        out.stderr.contains("3 passed through unprocessed"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_plugin_whose_registration_panics_is_skipped() {
    let out = host(&[PANICS, COUNTER], "self-check --json", vec![]);
    assert_eq!(out.status, 1);
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.contains(r#""name":"panics-plugin","version":"0.1.0","registered":false"#),
        "{json}"
    );
    assert!(json.contains("cannot find my model weights"), "{json}");
    assert!(
        json.contains(
            r#""name":"counter-plugin","version":"1.0.0","registered":true,"pipelines":["counter"]"#
        ),
        "{json}"
    );

    let run = host(
        &[PANICS, COUNTER],
        "run --pipeline counter --frames 1 --size 2x2 --output null",
        vec![],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: plugin `panics-plugin` skipped"),
        "{}",
        run.stderr
    );
}

#[test]
fn duplicate_pipeline_ids_across_plugins_fail_the_self_check() {
    let out = host(&[ADD, ADD_AGAIN], "self-check --json", vec![]);
    assert_eq!(out.status, 1);
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.contains(r#""duplicates":[{"id":"add","plugins":["add-plugin","other-add"]}]"#),
        "{json}"
    );
    assert!(
        json.contains("is already registered by plugin `add-plugin`"),
        "{json}"
    );

    let healthy = host(&[ADD, COUNTER], "self-check --json", vec![]);
    assert_eq!(healthy.status, 0);
    assert!(String::from_utf8(healthy.stdout)
        .unwrap()
        .contains(r#""ok":true"#));
}

#[test]
fn pipelines_json_has_full_schemas() {
    let out = host(&[ADD], "pipelines --json", vec![]);
    assert_eq!(out.status, 0);
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.starts_with(r#"{"version":1,"api_version":""#),
        "{json}"
    );
    assert!(
        json.contains(r#""id":"add","plugin":"add-plugin","plugin_version":"0.3.0""#),
        "{json}"
    );
    assert!(
        json.contains(r#""key":"batch","type":"integer","default":1,"min":1,"max":8"#),
        "{json}"
    );
    assert!(json.contains(r#""is_load_param":true"#), "{json}");
}

#[test]
fn truncated_input_is_an_error_naming_the_frame() {
    let mut stream = b"YUV4MPEG2 W2 H2 F25:1 C420jpeg\nFRAME\n".to_vec();
    stream.extend_from_slice(&[100; 6]);
    stream.extend_from_slice(b"FRAME\n\x01");
    let out = host(&[ADD], "run --pipeline add --input - --output null", stream);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains("frame 2 is truncated: 1 of its 6 bytes are there"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 frames in"),
        "the complete frame still went through: {}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    let out = host(&[], "run --frames many", vec![]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("hint: run `scope-host --help`"),
        "{}",
        out.stderr
    );
}
