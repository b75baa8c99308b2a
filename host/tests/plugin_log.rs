//! A plugin's log lines reach the host's log, named by their pipeline;
//! debug lines only with `--verbose`, info lines not with `--quiet`; the
//! last lines are in the control channel's `status` either way.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scope_host::Plugin;
use scope_plugin_api::{Error, Frame, Load, Params, Pipeline, PipelineConfig};
use support::host;

/// Passes frames on, saying so; at frame 2 of a `hold=1` run it waits for
/// [`RELEASED`].
struct Talker {
    hold: bool,
}

static RELEASED: AtomicBool = AtomicBool::new(false);

impl Pipeline for Talker {
    fn config() -> PipelineConfig {
        PipelineConfig::new("talker", "Talker")
            .param(scope_plugin_api::Param::bool("hold", false).load_param())
    }
    fn load(load: &Load) -> Result<Self, Error> {
        Ok(Talker {
            hold: load.params.bool("hold"),
        })
    }
    fn process(&mut self, input: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
        let index = input[0].index();
        scope_plugin_api::warn!("frame {index} looks dark");
        scope_plugin_api::info!("frame {index} passed");
        scope_plugin_api::debug!("frame {index} in detail");
        while self.hold && index == 2 && !RELEASED.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(input)
    }
}

const TALKER: Plugin = Plugin {
    name: "talker",
    version: "0.1.0",
    register: |r| r.register::<Talker>(),
    artifacts: &[],
};

fn run(extra: &str) -> support::Outcome {
    host(
        &[TALKER],
        &format!(
            "run --input testsrc --size 8x6 --frames 2 --pipeline talker --output null {extra}"
        ),
        vec![],
    )
}

#[test]
fn lines_are_named_by_their_pipeline_and_debug_waits_for_verbose() {
    let normal = run("");
    assert_eq!(normal.status, 0, "{}", normal.stderr);
    assert!(
        normal
            .stderr
            .contains("[talker] warn: frame 0 looks dark\n")
            && normal
                .stderr
                .contains("[talker] warn: frame 1 looks dark\n")
            && normal.stderr.contains("[talker] info: frame 1 passed\n"),
        "{}",
        normal.stderr
    );
    assert!(!normal.stderr.contains("in detail"), "{}", normal.stderr);
    let verbose = run("--verbose");
    assert!(
        verbose.stderr.contains("[talker] debug: frame 1 in detail"),
        "{}",
        verbose.stderr
    );
}

#[test]
#[allow(clippy::disallowed_methods)] // the host keeps its dependencies lean (no fs-err)
fn quiet_shows_only_warnings_but_status_keeps_the_recent_lines() {
    let dir = std::env::temp_dir().join(format!("scope-plugin-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("control.sock");
    let args = format!(
        "--quiet --set hold=true --frames 4 --control {}",
        socket.display()
    );
    let running = std::thread::spawn(move || run(&args));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        assert!(Instant::now() < deadline, "no status naming frame 2");
        std::thread::sleep(Duration::from_millis(10));
        let Ok(mut stream) = std::os::unix::net::UnixStream::connect(&socket) else {
            continue;
        };
        writeln!(stream, "status").unwrap();
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).unwrap();
        if answer.contains("frame 2 passed") {
            break answer;
        }
    };
    RELEASED.store(true, Ordering::SeqCst);
    let quiet = running.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(quiet.status, 0, "{}", quiet.stderr);
    assert!(
        quiet.stderr.contains("[talker] warn: frame 3 looks dark\n"),
        "{}",
        quiet.stderr
    );
    assert!(!quiet.stderr.contains("passed"), "{}", quiet.stderr);
    assert!(
        status.contains(r#""log":["#) && status.contains(r#""[talker] info: frame 0 passed""#),
        "{status}"
    );
    assert!(!status.contains("in detail"), "{status}");
}
