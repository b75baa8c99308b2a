//! `scopectl serve`: `scopectl run` plus an HTTP API (see `api`).
//!
//! The stream is supervised exactly as by `scopectl run` (on its own
//! thread); the API is a thin layer over the operations the CLI uses, and
//! reaches the stream through the same control socket as `scopectl ctl`.

mod api;
pub use api::ENDPOINTS;
pub mod bodies;
pub mod follow;
mod jobs;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use crate::error::Hinted;
use crate::home::Home;
use crate::output::Printer;
use crate::settings::Settings;
use crate::supervise::control::{self, Command};
use crate::supervise::{Instance, RunOptions};
use jobs::Jobs;

/// How often the server looks for a stop signal or the stream's end.
const POLL: Duration = Duration::from_millis(10);

/// The gate `--follow` switches under unless `--gate` says otherwise.
pub const FOLLOW_GATE: &str = "10s:lost=0,unloaded=0,restarts=0";

/// How `serve` was asked to run.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub token_file: Option<PathBuf>,
    pub run: RunOptions,
    /// `--follow`: the tag to converge on.
    pub follow: Option<follow::FollowOptions>,
}

/// What the handlers share.
pub struct Server {
    home: Home,
    settings: Settings,
    token: Option<String>,
    instance: Option<Instance>,
    jobs: Arc<Jobs>,
    closing: AtomicBool,
    /// Set by SIGTERM or SIGINT (or the stream's end): draining from then.
    stop: Arc<AtomicBool>,
    /// `--follow`'s state.
    follower: Option<Arc<follow::Follower>>,
}

impl Server {
    fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst)
    }

    /// `/health`: whether all is well, and the document.
    fn health(&self) -> (bool, Value) {
        let generation = self.home.current();
        let (status, host) = match &self.instance {
            None => ("ok", "none"),
            Some(instance) => match control::request(instance, &Command::Status) {
                Ok((answer, _))
                    if !answer["status"]["host_pid"].is_null()
                        && answer["status"]["handing_over"] != true =>
                {
                    ("ok", "running")
                }
                Ok(_) => ("restarting", "restarting"),
                Err(_) if instance.running().is_some() => ("starting", "starting"),
                Err(_) => ("stopped", "stopped"),
            },
        };
        // From the moment a stop signal arrives, load balancers must look
        // elsewhere.
        let status = if self.closing() { "draining" } else { status };
        let ok = status == "ok";
        let document = json!({
            "version": 1,
            "status": status,
            "generation": generation,
            "host": host,
            "jobs_running": self.jobs.busy(),
            "last_job": self.jobs.latest(),
        });
        (ok, document)
    }
}

pub fn serve(
    home: Home,
    settings: Settings,
    options: ServeOptions,
    host_args: Vec<OsString>,
    printer: Printer,
) -> Result<ExitCode> {
    let token = match &options.token_file {
        Some(path) => Some(token(path, &printer)?),
        None => None,
    };
    if !options.listen.ip().is_loopback() && token.is_none() {
        return Err(Hinted::new(
            format!("refusing to listen on {} without a token: anyone who can reach it could install code that runs on this machine", options.listen),
            "give `--token-file FILE` (a missing FILE is created with a new token, readable only by you)",
        )
        .into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let instance = if host_args.is_empty() {
        None
    } else {
        Some(Instance::new(&home, &options.run.name)?)
    };
    // The server lives as long as its stream (as `run` does), or until a
    // stop signal when it has none.
    let stream = instance.as_ref().map(|_| {
        let (home, run, printer) = (home.clone(), options.run.clone(), printer.clone());
        let stop = stop.clone();
        std::thread::spawn(move || {
            let result = crate::supervise::supervise(&home, &run, &host_args, &printer);
            stop.store(true, Ordering::SeqCst);
            result
        })
    });
    let jobs = Jobs::start(home.clone(), settings.clone());
    let follower = match options.follow {
        Some(follow) => Some(follow::start(
            follow,
            home.clone(),
            settings.clone(),
            jobs.clone(),
            stop.clone(),
        )?),
        None => None,
    };
    let server = Arc::new(Server {
        jobs,
        follower,
        home,
        settings,
        token,
        instance,
        closing: AtomicBool::new(false),
        stop: stop.clone(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        printer.status(
            "Serving",
            format!("http://{} (the API under /api/v1)", listener.local_addr()?),
        );
        let shutdown = drain(server.clone(), stop.clone(), printer.clone());
        let app = api::router(server.clone()).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the HTTP server failed")
    })?;
    match stream {
        Some(handle) => handle
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the supervisor panicked"))),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Resolves on SIGTERM or SIGINT (or the stream's end), once no job is
/// running: no new job is taken, and a job in flight is cancelled as a CLI
/// command is — its children stopped within 2 s, nothing committed unless
/// its commit had begun (then that completes) — and ends failed with
/// `interrupted; nothing was changed`, which the server prints.
async fn drain(server: Arc<Server>, stop: Arc<AtomicBool>, printer: Printer) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(POLL).await;
    }
    server.closing.store(true, Ordering::SeqCst);
    server.jobs.close();
    if server.jobs.busy() {
        #[cfg(unix)]
        let signal = signal_hook::consts::SIGTERM;
        #[cfg(not(unix))]
        let signal = 15;
        let _ = tokio::task::spawn_blocking(move || crate::cancel::cancel_children(signal)).await;
    }
    while server.jobs.busy() {
        tokio::time::sleep(POLL).await;
    }
    if crate::cancel::cancelled() {
        let interrupted = crate::cancel::interrupted().to_string();
        for job in server.jobs.all() {
            if job.error.is_some_and(|e| e.parts.message == interrupted) {
                printer.warn(format!("job {} ({}): {interrupted}", job.id, job.kind));
            }
        }
    }
}

/// The token in `path`, or a new one written there (owner-only) and
/// printed once.
fn token(path: &Path, printer: &Printer) -> Result<String> {
    if let Ok(text) = fs_err::read_to_string(path) {
        let token = text.trim().to_owned();
        if token.len() < 16 {
            return Err(Hinted::new(
                format!(
                    "the token in {} is shorter than 16 characters",
                    path.display()
                ),
                "delete the file to have a new token made",
            )
            .into());
        }
        return Ok(token);
    }
    let mut bytes = [0u8; 32];
    #[cfg(unix)]
    rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())
        .context("cannot make a token")?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::fsx::write_private(path, token.as_bytes())?;
    printer.status(
        "Created",
        format!(
            "a new token in {} (owner-only; never printed): send it as `Authorization: Bearer $(cat {})`",
            path.display(),
            path.display()
        ),
    );
    Ok(token)
}
