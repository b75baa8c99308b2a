//! A running `scopectl serve` and a blocking HTTP client for it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::Value;

use super::TestContext;

/// A running `scopectl serve`, its address, its log and its stdout.
pub struct Served {
    pub child: Child,
    pub base: String,
    log: Arc<Mutex<String>>,
    /// Reads the log; ends when the server does.
    logging: std::thread::JoinHandle<()>,
    out: super::Collector,
    pub client: Client,
    pub token: Option<String>,
}

impl Served {
    pub fn start(context: &TestContext, extra: &[&str], host_args: &[&str]) -> Served {
        let mut command = context.scopectl();
        command.arg("serve");
        if !extra.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command.args(extra);
        if !host_args.is_empty() {
            command.arg("--").args(host_args);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let logging = std::thread::spawn({
            let log = log.clone();
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(at) = line.find("http://") {
                        let address = line[at..].split_whitespace().next().unwrap().to_owned();
                        let _ = tx.send(address);
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let out = super::collect(child.stdout.take().unwrap());
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the server did not start: {}", log.lock().unwrap()));
        Served {
            child,
            base,
            log,
            logging,
            out,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            token: None,
        }
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET path`, or `None` when the server no longer answers.
    pub fn try_get(&self, path: &str) -> Option<(StatusCode, Value)> {
        let response = self.request(reqwest::Method::GET, path).send().ok()?;
        let status = response.status();
        Some((status, response.json().unwrap_or(Value::Null)))
    }

    pub fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.request(reqwest::Method::GET, path).send().unwrap();
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    pub fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .unwrap();
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    pub fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::PATCH, path)
            .json(&body)
            .send()
            .unwrap();
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Waits for job `id` to end; its document.
    pub fn job(&self, id: &Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (_, job) = self.get(&format!("/api/v1/jobs/{id}"));
            if job["state"] == "succeeded" || job["state"] == "failed" {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not end: {job}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for job `id` to end, and checks that it failed saying `words`.
    pub fn failed_job(&self, id: &Value, words: &str) {
        let job = self.job(id);
        assert_eq!(job["state"], "failed", "{job}");
        let text = job["error"]["text"].as_str().unwrap_or_default();
        assert!(text.contains(words), "{job}");
    }

    pub fn wait_healthy(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, health) = self.get("/health");
            if status == StatusCode::OK {
                return health;
            }
            assert!(
                Instant::now() < deadline,
                "not healthy: {health}; {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> (Option<i32>, Vec<u8>, String) {
        drop(self.child.stdin.take());
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.child.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        // Both readers end with their pipes (the log's, once every child
        // that inherited it is gone too: bounded, so a stray child cannot
        // hang the test).
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.logging.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let log = self.log.lock().unwrap().clone();
        (status, self.out.finish(), log)
    }
}
