//! `scopectl serve`: the HTTP API over loopback with a real client, a real
//! stream fed by the test, and the status page in headless chromium.

use crate::support;
use support::snapshot::scopectl_snapshot;

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::served::Served;
use support::{output, stderr, TestContext};

fn install(context: &TestContext, plugin: &str) {
    let out = output(
        context
            .scopectl()
            .arg("install")
            .arg(support::repo().join(plugin)),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn plugin(relative: &str) -> String {
    support::repo().join(relative).display().to_string()
}

/// Frames of ffmpeg's test pattern, as bytes to feed: header, frames.
fn video(context: &TestContext, frames: u32) -> (Vec<u8>, Vec<Vec<u8>>) {
    let path = context.temp.path().join("input.y4m");
    support::testsrc(&path, "160x120", frames);
    let bytes = fs_err::read(&path).unwrap();
    let mut reader = scope_host::video::framing::FrameReader::y4m(&bytes[..]).unwrap();
    let header = reader.framing().header_bytes();
    let frames = std::iter::from_fn(|| reader.read_frame().unwrap())
        .map(|f| {
            let mut bytes = Vec::new();
            f.write_to(&mut bytes).unwrap();
            bytes
        })
        .collect();
    (header, frames)
}

#[test]
fn a_plugin_installed_through_the_api_while_video_flows_keeps_one_stream() {
    let context = TestContext::new();
    install(&context, "fixtures/plugins/invert");
    let (header, frames) = video(&context, 120);
    let mut served = Served::start(
        &context,
        &[],
        &[
            "run",
            "--input",
            "-",
            "--pipeline",
            "invert",
            "--output",
            "-",
        ],
    );
    let mut stdin = served.child.stdin.take().unwrap();
    stdin.write_all(&header).unwrap();
    // Video flows until the test is done with the server (the frames over
    // and over), however long the builds take: a handoff ends at the new
    // host's first frame.
    let flowing = Arc::new(AtomicBool::new(true));
    let feeder = std::thread::spawn({
        let flowing = flowing.clone();
        move || {
            let mut sent = 0;
            for frame in frames.iter().cycle() {
                if sent >= frames.len() && !flowing.load(Ordering::SeqCst) {
                    break;
                }
                stdin.write_all(frame).unwrap();
                stdin.flush().unwrap();
                sent += 1;
                std::thread::sleep(Duration::from_millis(15));
            }
            (stdin, sent)
        }
    });
    let health = served.wait_healthy();
    assert_eq!(health["generation"], 1, "{health}");
    assert_eq!(health["host"], "running");

    let (status, answer) = served.post(
        "/api/v1/plugins",
        json!({"spec": plugin("fixtures/plugins/color-generator")}),
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let job = served.job(&answer["job"]);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["generation"], 2);
    assert!(
        job["log"].to_string().contains("Activated generation 2"),
        "{job}"
    );
    let health = served.wait_healthy();
    assert_eq!(health["generation"], 2, "{health}");
    let (_, pipelines) = served.get("/api/v1/pipelines");
    let ids: Vec<&str> = pipelines["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["color-generator", "invert"]);
    let (_, plugins) = served.get("/api/v1/plugins");
    let listed = output(context.scopectl().args(["list", "--json"]));
    assert_eq!(
        plugins,
        serde_json::from_slice::<Value>(&listed.stdout).unwrap(),
        "the same document as `list --json`"
    );
    let (status, stream) = served.get("/api/v1/stream");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stream["generation"], 2, "{stream}");

    // While hosts hand over, /health says so: the host is held still, so
    // the handoff cannot finish until it goes on.
    let host = rustix::process::Pid::from_raw(stream["host_pid"].as_i64().unwrap() as i32).unwrap();
    rustix::process::kill_process(host, rustix::process::Signal::STOP).unwrap();
    let restart = {
        let (client, url) = (
            served.client.clone(),
            format!("{}/api/v1/restart", served.base),
        );
        std::thread::spawn(move || client.post(url).json(&json!({})).send().unwrap().status())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, health) = served.get("/health");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(health["status"], "restarting", "{health}");
            break;
        }
        assert!(Instant::now() < deadline, "never restarting: {health}");
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(host, rustix::process::Signal::CONT).unwrap();
    assert_eq!(restart.join().unwrap(), StatusCode::OK);
    assert_eq!(served.wait_healthy()["status"], "ok");

    // A build that fails while video flows: the job fails with the
    // compiler's message, the generation and the stream stay.
    let (_, answer) = served.post(
        "/api/v1/plugins",
        json!({"spec": plugin("fixtures/broken-plugins/does-not-compile")}),
    );
    served.failed_job(&answer["job"], "mismatched types");
    let health = served.wait_healthy();
    assert_eq!(health["generation"], 2, "{health}");
    let (_, stream) = served.get("/api/v1/stream");
    assert_eq!(stream["generation"], 2, "{stream}");
    // The metrics counted both jobs, and the one build that succeeded.
    let metrics = served
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "scope_jobs_total{kind=\"install\",outcome=\"succeeded\"} 1",
        "scope_jobs_total{kind=\"install\",outcome=\"failed\"} 1",
        "scope_job_duration_seconds_count{kind=\"install\"} 2",
        "scope_build_duration_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "`{line}` in:\n{metrics}"
        );
    }

    // The stream's end: every frame out once, one header.
    flowing.store(false, Ordering::SeqCst);
    let (stdin, sent) = feeder.join().unwrap();
    drop(stdin);
    // SIGTERM ends a stream at the next frame: first let it take them all
    // (the stream's status counts them, until the server ends with its
    // input).
    support::wait_until(
        || match served.try_get("/api/v1/stream") {
            Some((StatusCode::OK, stream)) => stream["host"]["frames_out"] == sent,
            _ => true,
        },
        || format!("fewer than {sent} frames came out: {}", served.log()),
    );
    let (_, out, log) = served.stop();
    let frame_bytes = 6 + 160 * 120 * 3 / 2;
    assert_eq!(out.windows(9).filter(|w| w == b"YUV4MPEG2").count(), 1);
    let header_len = out.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert_eq!(out.len(), header_len + sent * frame_bytes, "{log}");
    assert!(
        log.contains("Handed over the stream to generation 2"),
        "{log}"
    );
}

#[test]
fn failed_and_refused_changes_change_nothing_and_jobs_serialise() {
    let context = TestContext::new();
    install(&context, "fixtures/plugins/invert");
    let served = Served::start(&context, &[], &[]);
    let lock = fs_err::read(context.home().join("resolved.lock")).unwrap();

    // A conflict, asked as a dry run: the resolver's explanation.
    let (status, answer) = served.post(
        "/api/v1/plugins",
        json!({"spec": plugin("fixtures/test-plugins/conflicts-with-invert"), "dry_run": true}),
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let job = served.job(&answer["job"]);
    assert_eq!(job["state"], "failed", "{job}");
    let text = job["error"]["text"].as_str().unwrap();
    assert!(text.contains("conflicts"), "{text}");

    // A build that fails: the compiler's message; the generation stays.
    let (_, answer) = served.post(
        "/api/v1/plugins",
        json!({"spec": plugin("fixtures/broken-plugins/does-not-compile")}),
    );
    // Queued behind it, at once: jobs run one at a time.
    let (_, second) = served.post("/api/v1/sync", json!({}));
    served.failed_job(&answer["job"], "mismatched types");
    let queued = served.job(&second["job"]);
    assert_eq!(queued["state"], "succeeded", "{queued}");
    assert!(
        queued["log"][0]
            .as_str()
            .unwrap()
            .starts_with("Queued behind 1 job"),
        "{queued}"
    );
    assert_eq!(
        fs_err::read(context.home().join("resolved.lock")).unwrap(),
        lock,
        "nothing changed"
    );
    let (_, health) = served.get("/health");
    assert_eq!(health["generation"], 1);

    // A CLI command during an API job waits for it, then lands.
    let (_, answer) = served.post(
        "/api/v1/plugins",
        json!({"spec": plugin("fixtures/plugins/color-generator")}),
    );
    let cli = output(
        context
            .scopectl()
            .arg("install")
            .arg(plugin("fixtures/plugins/temporal-blend")),
    );
    assert!(cli.status.success(), "{}", stderr(&cli));
    let job = served.job(&answer["job"]);
    assert_eq!(job["state"], "succeeded", "{job}");
    let (_, plugins) = served.get("/api/v1/plugins");
    assert_eq!(plugins["plugins"].as_array().unwrap().len(), 3, "{plugins}");

    // The job's events: its log, then its end.
    let events = served
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/jobs/{}/events", answer["job"]),
        )
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(events.contains("event: log"), "{events}");
    assert!(events.contains("data: succeeded"), "{events}");
    // History names the job and the client, not the server's command line.
    let history = output(context.scopectl().args(["history", "--json"]));
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    let commands: Vec<&str> = history["generations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["command"].as_str())
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("api: ") && c.contains(", from 127.0.0.1)")),
        "{commands:?}"
    );

    // SIGTERM while a job runs: it is cancelled, or — if its commit had
    // begun — it completes; never half, and the server says which.
    let status = served
        .request(reqwest::Method::DELETE, "/api/v1/plugins/color-generator")
        .send()
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, log) = served.stop();
    assert_eq!(status, Some(0), "{log}");
    let plugins_toml = fs_err::read_to_string(context.home().join("plugins.toml")).unwrap();
    if plugins_toml.contains("color-generator") {
        assert!(log.contains("interrupted; nothing was changed"), "{log}");
        assert!(
            history_has(&context, 3),
            "generation 3 is still active: {log}"
        );
    } else {
        assert!(history_has(&context, 4), "its generation is active: {log}");
    }
}

#[test]
fn a_token_guards_the_api_and_bad_requests_are_refused() {
    let context = TestContext::new();
    install(&context, "fixtures/plugins/invert");
    let exposed = output(context.scopectl().args(["serve", "--listen", "0.0.0.0:0"]));
    scopectl_snapshot!(&context, "listen_without_a_token", &exposed);
    // `localhost` is loopback: no token needed.
    let local = Served::start(&context, &["--listen", "localhost:0"], &[]);
    assert!(
        local.base.starts_with("http://127.0.0.1:"),
        "{}",
        local.base
    );
    assert_eq!(local.get("/health").0, StatusCode::OK);
    let _ = local.stop();

    let token_file = context.temp.path().join("token");
    let mut served = Served::start(
        &context,
        &["--token-file", token_file.to_str().unwrap()],
        &[],
    );
    let token = fs_err::read_to_string(&token_file).unwrap();
    let mode = fs_err::metadata(&token_file).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    assert!(!served.log().contains(token.trim()), "never printed");
    assert!(
        served.log().contains("Authorization: Bearer $(cat "),
        "{}",
        served.log()
    );
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/plugins"),
        (reqwest::Method::DELETE, "/api/v1/plugins/scope-invert"),
        (reqwest::Method::POST, "/api/v1/plugins/scope-invert/reload"),
        (reqwest::Method::POST, "/api/v1/update"),
        (reqwest::Method::POST, "/api/v1/sync"),
        (reqwest::Method::POST, "/api/v1/rollback"),
        (reqwest::Method::PATCH, "/api/v1/stream/params"),
        (reqwest::Method::POST, "/api/v1/restart"),
        (reqwest::Method::GET, "/api/v1/plugins"),
    ] {
        let status = served
            .request(method.clone(), path)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let wrong = served
            .request(method.clone(), path)
            .bearer_auth("0".repeat(64))
            .send()
            .unwrap()
            .status();
        assert_eq!(wrong, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(
        served.get("/health").0,
        StatusCode::OK,
        "health needs no token"
    );
    // The scheme is case-insensitive.
    let lower = served
        .request(reqwest::Method::GET, "/api/v1/plugins")
        .header("Authorization", format!("bearer {}", token.trim()))
        .send()
        .unwrap();
    assert_eq!(lower.status(), StatusCode::OK);
    served.token = Some(token.clone());
    let (status, _) = served.get("/api/v1/plugins");
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = served.get("/api/v1/no-such-thing");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer["error"]["message"], "no such path: GET /api/v1/no-such-thing",
        "{answer}"
    );

    let big = "x".repeat(100 << 10);
    let (status, answer) = served.post("/api/v1/plugins", json!({"spec": big}));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer["error"]["message"].is_string(), "JSON: {answer}");
    // A body declared too large is refused before it is sent.
    let address = served
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut raw = std::net::TcpStream::connect(address).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        raw,
        "POST /api/v1/plugins HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
        token.trim()
    )
    .unwrap();
    let mut head = [0u8; 64];
    let n = std::io::Read::read(&mut raw, &mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let malformed = served
        .request(reqwest::Method::POST, "/api/v1/plugins")
        .body("{\"spec\":")
        .send()
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let (status, answer) = served.post("/api/v1/plugins", json!({"spec": "x", "sepc": 1}));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `sepc`"));
    let traversal = served
        .request(reqwest::Method::DELETE, "/api/v1/plugins/..%2F..%2Fetc")
        .send()
        .unwrap();
    assert_eq!(traversal.status(), StatusCode::BAD_REQUEST);
    let unknown = served
        .request(reqwest::Method::DELETE, "/api/v1/plugins/not-installed")
        .send()
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let (status, answer) = served.post("/api/v1/plugins", json!({"spec": "fx@@1"}));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let cli = output(context.scopectl().args(["install", "fx@@1"]));
    assert!(
        stderr(&cli).contains(answer["error"]["message"].as_str().unwrap()),
        "the message the CLI prints: {answer} / {}",
        stderr(&cli)
    );
    let _ = served.stop();
}

/// The status page as a person sees it, in headless chromium driven over
/// the DevTools protocol (`status_page.py`): at 1280x800 and 390x844 the
/// parts are visible inside the viewport, nothing overflows sideways, the
/// preview shows frames, controls exist only for the chain's stages and
/// show the live values, sources are short with the whole text on hover;
/// a change made with the page's control reaches the stream.
#[test]
fn the_status_page_shows_the_live_stream_at_desktop_and_phone_sizes() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("these tests need chromium: apt-get install -y chromium");
    let context = TestContext::new();
    install(&context, "fixtures/plugins/invert");
    install(&context, "fixtures/plugins/color-generator");
    let mut served = Served::start(
        &context,
        &[],
        &[
            "run",
            "--input",
            "-",
            "--pipeline",
            "invert",
            "--output",
            "null",
        ],
    );
    support::feed_forever(served.child.stdin.take().unwrap());
    served.wait_healthy();
    // A live value the schema does not know (its default is 1.0).
    let (status, answer) = served.patch(
        "/api/v1/stream/params",
        json!({"params": {"invert.intensity": 0.6}}),
    );
    assert_eq!(status, StatusCode::OK, "{answer}");

    let shots = support::repo().join("target/status-page");
    fs_err::create_dir_all(&shots).unwrap();
    let viewports = ["1280x800", "390x844"];
    let driven = output(
        Command::new("python3")
            .arg(support::repo().join("tests/it/status_page.py"))
            .arg(chromium)
            .arg(format!("{}/", served.base))
            .arg(&shots)
            .args(viewports),
    );
    assert!(driven.status.success(), "{}", stderr(&driven));
    let report: Value = serde_json::from_slice(&driven.stdout).unwrap();
    for viewport in viewports {
        let seen = &report[viewport];
        assert!(
            seen["overflow"].as_i64().unwrap() <= 0,
            "{viewport}: {seen}"
        );
        for part in [
            "health",
            "generation",
            "preview",
            "controls",
            "generations",
            "plugins",
        ] {
            assert_eq!(seen["visible"][part], true, "{viewport}: {part} in {seen}");
        }
        assert!(
            seen["shades"].as_u64().unwrap() > 8,
            "a blank preview: {seen}"
        );
        assert_eq!(seen["stages"], json!(["invert"]), "{viewport}: {seen}");
        assert_eq!(
            seen["controls"],
            json!([{"stage": "invert", "key": "intensity", "value": "0.6", "visible": true}]),
            "{viewport}: {seen}"
        );
        for source in seen["sources"].as_array().unwrap() {
            let shown = source["shown"].as_str().unwrap();
            let full = source["full"].as_str().unwrap();
            assert!(shown.starts_with("path: ") && shown.len() < 40, "{source}");
            assert!(full.contains("/fixtures/plugins/"), "{source}");
        }
        assert_eq!(seen["rollback_buttons"], 1, "{seen}");
        assert_eq!(seen["error_wraps"], "anywhere", "{seen}");
        let png = fs_err::read(shots.join(format!("{viewport}.png"))).unwrap();
        let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!(format!("{}x{}", size(16), size(20)), viewport);
    }
    assert_eq!(report["error_after_change"], "", "{report}");
    let (_, stream) = served.get("/api/v1/stream");
    assert_eq!(
        stream["host"]["stages"][0]["params"]["intensity"], 0.25,
        "the page's change reached the stream: {stream}"
    );
    let _ = served.stop();
}

fn history_has(context: &TestContext, generation: u64) -> bool {
    let out = output(context.scopectl().args(["history", "--json"]));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    history["generations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["number"] == generation && g["current"] == true)
}

#[test]
fn stopping_the_server_cancels_the_job_in_flight_and_changes_nothing() {
    let context = TestContext::new();
    install(&context, "fixtures/plugins/invert");
    let before: Vec<Option<Vec<u8>>> = ["plugins.toml", "resolved.lock", "bin/scope-host"]
        .iter()
        .map(|f| fs_err::read(context.home().join(f)).ok())
        .collect();
    let served = Served::start(&context, &[], &[]);
    let (slow, marker) = support::slow_build_plugin(context.temp.path(), "slow-api-fx");
    let (status, answer) = served.post(
        "/api/v1/plugins",
        json!({"spec": slow.display().to_string()}),
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (_, queued) = served.post("/api/v1/sync", json!({}));
    assert!(queued["job"].is_u64(), "{queued}");
    support::wait_for_file(&marker);

    // From the stop signal on, health says draining (503) while the job in
    // flight is cancelled.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(served.child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let (status, health) = served.get("/health");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["status"], "draining", "{health}");

    // The build sleeps a minute: had the server waited for it instead of
    // cancelling it, the log would not say it was interrupted.
    let (code, _, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("interrupted; nothing was changed"),
        "the cancelled job is reported: {log}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        support::processes_of(&context),
        Vec::<String>::new(),
        "{log}"
    );
    let after: Vec<Option<Vec<u8>>> = ["plugins.toml", "resolved.lock", "bin/scope-host"]
        .iter()
        .map(|f| fs_err::read(context.home().join(f)).ok())
        .collect();
    assert_eq!(after, before, "the home is as it was");
    assert!(history_has(&context, 1));
}
