//! Changes asked for over HTTP run as jobs: one at a time, in order, on a
//! worker thread, through the same operations as the CLI (and so through
//! the home's lock: a CLI command and a job serialise). A job keeps its log
//! (what the CLI would print) and ends with a result or an error as the
//! CLI prints it; its events are broadcast for `/jobs/{id}/events`.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::error::ErrorParts;
use crate::home::Home;
use crate::ops::change::{change, ChangeRequest, Outcome};
use crate::ops::import::{import, Imported};
use crate::ops::rollback::{rollback, Switched};
use crate::reporter::Reporter;
use crate::settings::Settings;

/// What a job was asked, for `history`: `install fx`, from `127.0.0.1`.
pub struct Asked {
    /// As a person would type it after `scopectl`.
    pub command: String,
    /// The client's address.
    pub from: String,
}

/// What a job does.
pub enum Work {
    /// A change request, built (and checked) when the job was asked for.
    Change(ChangeRequest),
    /// `rollback [--to N]`.
    Rollback(Option<u64>),
    /// `import SOURCE` (`oci://…`, a layout or a tar of one), verified
    /// with these keys (and the policy's).
    Import(String, Vec<std::path::PathBuf>),
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// A job as `GET /api/v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobDocument {
    pub version: u32,
    pub id: u64,
    /// `install`, `uninstall`, `reload`, `update`, `sync`, `rollback`.
    pub kind: String,
    pub state: State,
    /// What the CLI would print, line by line.
    pub log: Vec<String>,
    /// On success: `{"outcome": "committed"|"unchanged"|"would_change"|…, …}`.
    pub result: Option<serde_json::Value>,
    /// On failure: the error as the CLI prints it, and in parts.
    pub error: Option<JobError>,
}

/// A failed job's error.
#[derive(Debug, Clone, Serialize)]
pub struct JobError {
    #[serde(flatten)]
    pub parts: ErrorParts,
    /// `error: …`, `Caused by:`, `hint: …`, as the CLI prints it.
    pub text: String,
}

/// One line of a job's progress, for `/events`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub job: u64,
    /// `log`, or `state` when the job's state changed.
    pub kind: &'static str,
    pub text: String,
}

/// The jobs of one server.
pub struct Jobs {
    jobs: Mutex<BTreeMap<u64, JobDocument>>,
    queue: Mutex<Option<Sender<(u64, Work, Asked)>>>,
    events: broadcast::Sender<Event>,
}

impl Jobs {
    /// Starts the worker.
    pub fn start(home: Home, settings: Settings) -> Arc<Jobs> {
        let (tx, rx) = channel::<(u64, Work, Asked)>();
        let (events, _) = broadcast::channel(1024);
        let jobs = Arc::new(Jobs {
            jobs: Mutex::new(BTreeMap::new()),
            queue: Mutex::new(Some(tx)),
            events,
        });
        let worker = jobs.clone();
        std::thread::spawn(move || {
            for (id, work, asked) in rx {
                // The server is stopping: what is still queued never starts.
                if crate::cancel::cancelled() {
                    worker.finish(id, Err(crate::cancel::interrupted()));
                    continue;
                }
                worker.set_state(id, State::Running);
                let reporter: Arc<dyn Reporter> = Arc::new(JobReporter {
                    jobs: worker.clone(),
                    id,
                });
                // History records the job as what made its generation.
                let mut settings = settings.clone();
                settings.command_line =
                    format!("api: {} (job {id}, from {})", asked.command, asked.from);
                let kind = worker.get(id).map(|j| j.kind).unwrap_or_default();
                let started = std::time::Instant::now();
                let result = run(&home, &settings, reporter.clone(), work);
                let outcome = match &result {
                    Ok(_) => "succeeded",
                    Err(_) if crate::cancel::cancelled() => "cancelled",
                    Err(_) => "failed",
                };
                crate::metrics::global().job(&kind, outcome, started.elapsed());
                match result {
                    Ok(result) => worker.finish(id, Ok(result)),
                    // Its children were stopped: what failed is the cancel.
                    Err(_) if crate::cancel::cancelled() => {
                        worker.finish(id, Err(crate::cancel::interrupted()))
                    }
                    Err(err) => worker.finish(id, Err(err)),
                }
            }
        });
        jobs
    }

    /// Queues `work`; its id, or `None` once the server is shutting down.
    pub fn submit(&self, kind: &str, work: Work, asked: Asked) -> Option<u64> {
        let queue = lock(&self.queue);
        let queue = queue.as_ref()?;
        let mut jobs = lock(&self.jobs);
        let id = jobs.keys().next_back().map_or(1, |n| n + 1);
        let ahead = jobs
            .values()
            .filter(|j| matches!(j.state, State::Queued | State::Running))
            .count();
        let mut log = Vec::new();
        if ahead > 0 {
            log.push(format!(
                "Queued behind {ahead} job(s); jobs run one at a time"
            ));
        }
        jobs.insert(
            id,
            JobDocument {
                version: 1,
                id,
                kind: kind.to_owned(),
                state: State::Queued,
                log,
                result: None,
                error: None,
            },
        );
        queue.send((id, work, asked)).ok()?;
        Some(id)
    }

    /// Takes no more jobs (those queued and the one running are cancelled
    /// by the server, see `drain`).
    pub fn close(&self) {
        lock(&self.queue).take();
    }

    /// Whether a job is queued or running.
    pub fn busy(&self) -> bool {
        lock(&self.jobs)
            .values()
            .any(|j| matches!(j.state, State::Queued | State::Running))
    }

    pub fn get(&self, id: u64) -> Option<JobDocument> {
        lock(&self.jobs).get(&id).cloned()
    }

    /// Every job, oldest first.
    pub fn all(&self) -> Vec<JobDocument> {
        lock(&self.jobs).values().cloned().collect()
    }

    /// The newest job, for the status page.
    pub fn latest(&self) -> Option<JobDocument> {
        lock(&self.jobs).values().next_back().cloned()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn log(&self, id: u64, line: String) {
        if let Some(job) = lock(&self.jobs).get_mut(&id) {
            job.log.push(line.clone());
        }
        let _ = self.events.send(Event {
            job: id,
            kind: "log",
            text: line,
        });
    }

    fn set_state(&self, id: u64, state: State) {
        if let Some(job) = lock(&self.jobs).get_mut(&id) {
            job.state = state;
        }
        let text = serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = self.events.send(Event {
            job: id,
            kind: "state",
            text,
        });
    }

    fn finish(&self, id: u64, result: Result<serde_json::Value>) {
        let state = {
            let mut jobs = lock(&self.jobs);
            let Some(job) = jobs.get_mut(&id) else { return };
            match result {
                Ok(value) => {
                    job.result = Some(value);
                    State::Succeeded
                }
                Err(err) => {
                    let parts = ErrorParts::of(&err);
                    let text = parts.text();
                    job.log.extend(text.lines().map(str::to_owned));
                    job.error = Some(JobError { parts, text });
                    State::Failed
                }
            }
        };
        self.set_state(id, state);
    }
}

fn run(
    home: &Home,
    settings: &Settings,
    reporter: Arc<dyn Reporter>,
    work: Work,
) -> Result<serde_json::Value> {
    use serde_json::json;
    Ok(match work {
        Work::Change(request) => match change(home, settings, reporter.clone(), request)? {
            Outcome::Unchanged { generation } => {
                reporter.status("Fresh", "nothing to change");
                json!({"outcome": "unchanged", "generation": generation})
            }
            Outcome::Identical { generation } => {
                reporter.status(
                    "Fresh",
                    "the rebuilt host is byte-identical to the active one",
                );
                json!({"outcome": "unchanged", "generation": generation})
            }
            Outcome::WouldChange(changes) => {
                let changes = crate::change::lines(&changes);
                for line in &changes {
                    reporter.status("Would", line);
                }
                json!({"outcome": "would_change", "changes": changes})
            }
            Outcome::Committed {
                generation,
                changes,
            } => {
                let changes = crate::change::lines(&changes);
                for line in &changes {
                    reporter.status("Changed", line);
                }
                reporter.status("Activated", &format!("generation {generation}"));
                json!({"outcome": "committed", "generation": generation, "changes": changes})
            }
            Outcome::Recorded(changes) => {
                json!({"outcome": "recorded", "changes": crate::change::lines(&changes)})
            }
        },
        Work::Import(source, keys) => match import(home, settings, &*reporter, &source, &keys)? {
            Imported::Unchanged(n) => json!({"outcome": "unchanged", "generation": n}),
            Imported::Committed { generation, digest } => {
                reporter.status("Activated", &format!("generation {generation} ({digest})"));
                json!({"outcome": "committed", "generation": generation, "digest": digest})
            }
        },
        Work::Rollback(to) => match rollback(home, settings, &*reporter, to)? {
            Switched::Already(n) => json!({"outcome": "unchanged", "generation": n}),
            Switched::Switched { from, to, .. } => {
                reporter.status("Switched", &format!("from generation {from} to {to}"));
                json!({"outcome": "committed", "generation": to, "from": from})
            }
        },
    })
}

/// Turns what an operation says into the job's log.
struct JobReporter {
    jobs: Arc<Jobs>,
    id: u64,
}

impl Reporter for JobReporter {
    fn status(&self, verb: &str, message: &str) {
        self.jobs.log(self.id, format!("{verb:>12} {message}"));
    }
    fn warn(&self, message: &str) {
        self.jobs.log(self.id, format!("warning: {message}"));
    }
    fn blocking(&self, message: &str) {
        self.jobs.log(self.id, message.to_owned());
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
