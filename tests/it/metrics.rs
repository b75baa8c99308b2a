//! Metrics: a real Prometheus scrapes `scopectl serve` on loopback and its
//! query API answers with the stream's frames and the generation; `run
//! --metrics ADDR` serves the same text without the API.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use support::served::Served;
use support::{output, stderr, TestContext};

fn install_invert(context: &TestContext) {
    let out = output(
        context
            .scopectl()
            .arg("install")
            .arg(support::repo().join("fixtures/plugins/invert")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A stream from stdin through `invert`.
const STREAM: &[&str] = &[
    "run",
    "--input",
    "-",
    "--pipeline",
    "invert",
    "--output",
    "null",
];

#[test]
fn prometheus_scrapes_serve_and_sees_frames_and_the_generation() {
    let prometheus = "prometheus";
    assert!(
        Command::new(prometheus)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "this test needs Prometheus: apt-get install -y prometheus"
    );
    let context = TestContext::new();
    install_invert(&context);
    let mut served = Served::start(&context, &[], STREAM);
    support::feed_forever(served.child.stdin.take().unwrap());
    let target = served.base.trim_start_matches("http://").to_owned();
    let dir = context.temp.path().join("prometheus");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: scope\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let mut server = Command::new(prometheus)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(
            fs_err::File::create(dir.join("log"))
                .unwrap()
                .into_parts()
                .0,
        )
        .spawn()
        .unwrap();
    let query = |expression: &str| -> Vec<serde_json::Value> {
        served
            .client
            .get(format!("http://{web}/api/v1/query"))
            .query(&[("query", expression)])
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let frames = loop {
        let result = query("scope_frames_total{direction=\"out\"}");
        let value = result
            .first()
            .and_then(|r| r["value"][1].as_str()?.parse::<f64>().ok());
        if let Some(value) = value.filter(|v| *v > 0.0) {
            break value;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw frames: {}\n{}",
            fs_err::read_to_string(dir.join("log")).unwrap_or_default(),
            served.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(frames > 0.0);
    let info = query("scope_generation_info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0]["metric"]["generation"], "1", "{info:?}");
    assert!(
        info[0]["metric"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:") && d.len() == 71),
        "{info:?}"
    );
    let stage = query("scope_stage_frames_total");
    assert_eq!(stage[0]["metric"]["stage"], "invert", "{stage:?}");
    let _ = server.kill();
    let _ = server.wait();
    let _ = served.stop();
}

#[test]
fn run_serves_metrics_without_the_api() {
    let context = TestContext::new();
    install_invert(&context);
    let mut run = context
        .scopectl()
        .args(["run", "--metrics", "127.0.0.1:0", "--"])
        .args(STREAM)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    support::feed_forever(run.stdin.take().unwrap());
    let mut lines = BufReader::new(run.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| Some(line.split_once("metrics at ")?.1.trim().to_owned()))
        .expect("run says where its metrics are");
    std::thread::spawn(move || lines.for_each(drop));
    let client = reqwest::blocking::Client::new();
    let text = std::cell::RefCell::new(String::new());
    support::wait_until(
        || {
            let scraped = client
                .get(&url)
                .send()
                .and_then(|r| r.text())
                .unwrap_or_default();
            let frames = scraped.lines().any(|l| {
                l.starts_with("scope_frames_total{direction=\"out\"} ") && !l.ends_with(" 0")
            });
            *text.borrow_mut() = scraped;
            frames
        },
        || format!("no frames in the metrics:\n{}", text.borrow()),
    );
    let text = text.into_inner();
    for family in [
        "# TYPE scope_frame_latency_seconds histogram",
        "# TYPE scope_stage_busy_seconds counter",
        "# TYPE scope_handoffs counter",
        "# TYPE scope_generation info",
        "scope_stage_unloaded{stage=\"invert\",pipeline=\"invert\"} 0",
        "# EOF",
    ] {
        assert!(text.contains(family), "`{family}` in:\n{text}");
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(run.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let _ = run.wait();
}
