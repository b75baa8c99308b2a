//! A plugin's log lines reach the host's log, named by their pipeline;
//! debug lines only with `--verbose`.

mod support;

use scope_host::Plugin;
use scope_plugin_api::{Error, Frame, Load, Params, Pipeline, PipelineConfig};
use support::host;

/// Passes frames on, saying so.
struct Talker;

impl Pipeline for Talker {
    fn config() -> PipelineConfig {
        PipelineConfig::new("talker", "Talker")
    }
    fn load(_: &Load) -> Result<Self, Error> {
        Ok(Talker)
    }
    fn process(&mut self, input: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
        scope_plugin_api::warn!("frame {} looks dark", input[0].index());
        scope_plugin_api::debug!("frame {} in detail", input[0].index());
        Ok(input)
    }
}

const TALKER: Plugin = Plugin {
    name: "talker",
    version: "0.1.0",
    register: |r| r.register::<Talker>(),
};

#[test]
fn lines_are_named_by_their_pipeline_and_debug_waits_for_verbose() {
    let run = |extra: &str| {
        host(
            &[TALKER],
            &format!(
                "run --input testsrc --size 8x6 --frames 2 --pipeline talker --output null {extra}"
            ),
            vec![],
        )
    };
    let quiet = run("");
    assert_eq!(quiet.status, 0, "{}", quiet.stderr);
    assert!(
        quiet.stderr.contains("[talker] warn: frame 0 looks dark\n")
            && quiet.stderr.contains("[talker] warn: frame 1 looks dark\n"),
        "{}",
        quiet.stderr
    );
    assert!(!quiet.stderr.contains("in detail"), "{}", quiet.stderr);
    let verbose = run("--verbose");
    assert!(
        verbose.stderr.contains("[talker] debug: frame 1 in detail"),
        "{}",
        verbose.stderr
    );
}
