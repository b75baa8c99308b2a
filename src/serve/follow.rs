//! `serve --follow oci://REG/REPO:TAG`: the server converges on the tag's
//! digest by itself. Every interval it asks the registry where the tag
//! points (a `HEAD` of the manifest); a new digest is imported as a job
//! (verified with `--verify` keys and the policy's), and the stream switches
//! under its gate. A digest whose generation the gate rolled back is never
//! imported again (the home's `rollbacks.toml` remembers, across restarts).
//! Failures back off (up to 8 intervals) and are reported in
//! `GET /api/v1/follow` and the metrics.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::jobs::{Asked, Jobs, State, Work};
use crate::home::Home;
use crate::oci::registry::{self, Target};
use crate::settings::Settings;
use crate::supervise::generation_digest;

/// What `--follow` was given.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// `oci://REGISTRY/REPOSITORY:TAG`.
    pub tag: String,
    pub interval: Duration,
    /// `--verify KEY.pub`.
    pub keys: Vec<PathBuf>,
}

/// `GET /api/v1/follow`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowStatus {
    pub version: u32,
    pub tag: String,
    /// Where the tag points.
    pub desired: Option<String>,
    /// The active generation's digest.
    pub active: Option<String>,
    /// When the tag was last asked (RFC 3339).
    pub last_check: Option<String>,
    pub last_error: Option<String>,
    /// Digests whose generations failed their gate: never imported again.
    pub refused: Vec<String>,
    pub interval_s: f64,
}

/// The follower's state, shared with the API.
pub struct Follower {
    status: Mutex<FollowStatus>,
}

impl Follower {
    pub fn status(&self) -> FollowStatus {
        lock(&self.status).clone()
    }
}

/// Starts following on a thread of its own; it ends when `stop` is set.
pub fn start(
    options: FollowOptions,
    home: Home,
    settings: Settings,
    jobs: Arc<Jobs>,
    stop: Arc<AtomicBool>,
) -> Result<Arc<Follower>> {
    let target = Target::parse(&options.tag)?;
    let follower = Arc::new(Follower {
        status: Mutex::new(FollowStatus {
            version: 1,
            tag: options.tag.clone(),
            interval_s: options.interval.as_secs_f64(),
            ..FollowStatus::default()
        }),
    });
    let shared = follower.clone();
    std::thread::spawn(move || {
        let mut failures = 0u32;
        while !stop.load(Ordering::SeqCst) {
            let outcome = check(&options, &target, &home, &settings, &jobs, &shared);
            let metrics = crate::metrics::global();
            let label = match &outcome {
                Ok(what) => *what,
                Err(_) => "failed",
            };
            metrics
                .follow_checks
                .get_or_create(&crate::metrics::labels(&[("outcome", label)]))
                .inc();
            {
                let mut status = lock(&shared.status);
                status.last_check = Some(crate::time::now_rfc3339());
                status.last_error = outcome.as_ref().err().map(|e| format!("{e:#}"));
            }
            failures = match outcome {
                Ok(_) => 0,
                Err(_) => (failures + 1).min(3),
            };
            // 1, 2, 4, 8 intervals after failures in a row.
            let wait = options.interval * (1u32 << failures);
            let until = Instant::now() + wait;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    Ok(follower)
}

/// One look at the tag: `current`, `refused` or `imported`.
fn check(
    options: &FollowOptions,
    target: &Target,
    home: &Home,
    settings: &Settings,
    jobs: &Jobs,
    follower: &Follower,
) -> Result<&'static str> {
    let desired = registry::tag_digest(target, &settings.oci)?;
    let active = home.current().and_then(|n| generation_digest(home, n));
    let refused: BTreeSet<String> = home
        .automatic_rollbacks()
        .iter()
        .filter_map(|r| generation_digest(home, r.from))
        .collect();
    {
        let mut status = lock(&follower.status);
        status.desired = Some(desired.clone());
        status.active = active.clone();
        status.refused = refused.iter().cloned().collect();
    }
    if active.as_deref() == Some(desired.as_str()) {
        return Ok("current");
    }
    if refused.contains(&desired) {
        return Ok("refused");
    }
    let source = registry::at_digest(target, &desired);
    let asked = Asked {
        command: format!("import {source} (following {})", options.tag),
        from: "follow".to_owned(),
    };
    let work = Work::Import(source, options.keys.clone());
    let Some(id) = jobs.submit("import", work, asked) else {
        anyhow::bail!("the server is stopping");
    };
    let job = loop {
        match jobs.get(id) {
            Some(job) if matches!(job.state, State::Succeeded | State::Failed) => break job,
            Some(_) => std::thread::sleep(Duration::from_millis(50)),
            None => anyhow::bail!("job {id} went missing"),
        }
    };
    if let Some(error) = job.error {
        anyhow::bail!(
            "importing {desired} failed (job {id}): {}",
            error.parts.message
        );
    }
    lock(&follower.status).active = home.current().and_then(|n| generation_digest(home, n));
    Ok("imported")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
