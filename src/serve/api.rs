//! The HTTP API: thin handlers over the operations the CLI uses (documents
//! from `ops::inspect`, `ops::probe`, `ops::check`; changes as jobs built by
//! `ops::requests`; the stream through the control socket of `scopectl run`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::bodies;
use super::jobs::{Asked, Jobs, State as JobState, Work};
use super::Server;
use crate::error::ErrorParts;
use crate::ops::change::Mode;
use crate::ops::requests;
use crate::reporter::Silent;
use crate::spec::RefFlags;
use crate::supervise::control::{self, Command};

/// Request bodies larger than this are refused with 413.
const MAX_BODY: usize = 64 << 10;

/// Every endpoint, for `scopectl-serve(1)`; keep in step with [`router`]
/// (tests/it/man.rs checks each route is listed).
pub const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("GET", "/", "the status page"),
    ("GET", "/page.css", "the status page's style"),
    ("GET", "/health", "200 while serving (no token needed)"),
    (
        "GET",
        "/metrics",
        "Prometheus metrics (text exposition format)",
    ),
    (
        "GET",
        "/api/v1/plugins",
        "installed plugins (as list --json)",
    ),
    (
        "POST",
        "/api/v1/plugins",
        "install: {\"spec\":\"…\"} (a job)",
    ),
    ("DELETE", "/api/v1/plugins/{name}", "uninstall (a job)"),
    (
        "POST",
        "/api/v1/plugins/{name}/reload",
        "rebuild an editable plugin (a job)",
    ),
    ("GET", "/api/v1/pipelines", "the active host's pipelines"),
    ("GET", "/api/v1/history", "generations (as history --json)"),
    (
        "GET",
        "/api/v1/updates",
        "available updates (as update --check --json)",
    ),
    ("POST", "/api/v1/update", "update plugins (a job)"),
    ("POST", "/api/v1/sync", "sync with plugins.toml (a job)"),
    (
        "POST",
        "/api/v1/rollback",
        "switch to an earlier generation (a job)",
    ),
    ("POST", "/api/v1/import", "import a generation (a job)"),
    ("GET", "/api/v1/jobs/{id}", "a job's state and result"),
    (
        "GET",
        "/api/v1/jobs/{id}/events",
        "a job's progress as Server-Sent Events",
    ),
    ("GET", "/api/v1/stream", "the supervised stream's status"),
    (
        "PATCH",
        "/api/v1/stream/params",
        "change runtime parameters live",
    ),
    (
        "GET",
        "/api/v1/stream/snapshot.png",
        "the latest output frame",
    ),
    (
        "POST",
        "/api/v1/restart",
        "restart the host without breaking the stream",
    ),
    (
        "GET",
        "/api/v1/follow",
        "the followed tag: desired and active digests, refused ones",
    ),
];

pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/page.css", get(page_css))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v1/plugins", get(plugins).post(install))
        .route("/api/v1/plugins/{name}", axum::routing::delete(uninstall))
        .route("/api/v1/plugins/{name}/reload", post(reload))
        .route("/api/v1/pipelines", get(pipelines))
        .route("/api/v1/history", get(history))
        .route("/api/v1/updates", get(updates))
        .route("/api/v1/update", post(update))
        .route("/api/v1/sync", post(sync))
        .route("/api/v1/rollback", post(rollback))
        .route("/api/v1/import", post(import))
        .route("/api/v1/jobs/{id}", get(job))
        .route("/api/v1/jobs/{id}/events", get(job_events))
        .route("/api/v1/stream", get(stream_status))
        .route("/api/v1/stream/params", axum::routing::patch(stream_params))
        .route("/api/v1/stream/snapshot.png", get(snapshot))
        .route("/api/v1/restart", post(restart))
        .route("/api/v1/follow", get(follow))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            authorize,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(json_too_large))
        .layer(axum::middleware::from_fn(refuse_large))
        .with_state(server)
}

/// Unknown paths: a JSON 404 that lists where to look.
async fn not_found(request: Request) -> ApiError {
    let mut answer = ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no such path: {} {}",
            request.method(),
            request.uri().path()
        ),
    );
    answer.1.hint = Some(
        "GET / is the status page; the README's Headless servers section lists the API".into(),
    );
    answer
}

/// A body declared larger than [`MAX_BODY`] is refused before it arrives.
async fn refuse_large(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return too_large().into_response();
    }
    next.run(request).await
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {} KiB", MAX_BODY >> 10),
    )
}

/// The body limit's own 413 (for a body that was not declared too large)
/// is plain text: answered as JSON, like every other error.
async fn json_too_large(response: Response) -> Response {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return too_large().into_response();
    }
    response
}

/// An error answer: `{"error": {"message", "causes", "hint"}}`.
pub struct ApiError(StatusCode, ErrorParts);

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError(
            status,
            ErrorParts {
                message: message.into(),
                causes: Vec::new(),
                hint: None,
            },
        )
    }

    fn bad(err: &anyhow::Error) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, ErrorParts::of(err))
    }

    fn internal(err: &anyhow::Error) -> ApiError {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, ErrorParts::of(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

type Answer = Result<Response, ApiError>;

/// The body as JSON of type `T`; an empty body is `{}`. Unknown fields and
/// bad JSON are 400 with serde's message.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    bodies::read(bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))
}

/// Runs blocking work (the home, processes) off the server's thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// With a token configured, every `/api/v1` call needs it
/// (`Authorization: Bearer TOKEN`); `/` and `/health` never do.
async fn authorize(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let open = matches!(request.uri().path(), "/" | "/page.css" | "/health");
    if let (Some(token), false) = (&server.token, open) {
        // The scheme is case-insensitive (RFC 9110 §11.1).
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, token)| token.trim());
        if !same(given.as_bytes(), token.as_bytes()) {
            let mut answer = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this server needs its token: `Authorization: Bearer TOKEN`",
            )
            .into_response();
            answer.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("a header value"),
            );
            return answer;
        }
    }
    if server.closing() && request.method() != Method::GET {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
        .into_response();
    }
    next.run(request).await
}

/// Compares in time that depends on the length only, not on where the
/// bytes first differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn page_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("page.css"),
    )
        .into_response()
}

/// `/api/v1/follow`: where the followed tag points and where we are.
async fn follow(State(server): State<Arc<Server>>) -> Answer {
    match &server.follower {
        Some(follower) => Ok(Json(json!(follower.status())).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "this server follows no tag: start it with `scopectl serve --follow oci://REGISTRY/REPOSITORY:TAG`",
        )),
    }
}

/// `/metrics`: this process's metrics, read from the stream when asked.
async fn metrics() -> Response {
    match blocking(|| Ok(crate::metrics::global().encode())).await {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn health(State(server): State<Arc<Server>>) -> Response {
    let server2 = server.clone();
    let status = blocking(move || Ok(server2.health())).await;
    match status {
        Ok((ok, document)) => {
            let code = if ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (code, Json(document)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn document<T: serde::Serialize>(value: &T) -> Response {
    Json(serde_json::to_value(value).unwrap_or(Value::Null)).into_response()
}

async fn plugins(State(server): State<Arc<Server>>) -> Answer {
    blocking(move || {
        let list = crate::ops::inspect::list(&server.home).map_err(|e| ApiError::internal(&e))?;
        Ok(document(&list))
    })
    .await
}

async fn pipelines(State(server): State<Arc<Server>>) -> Answer {
    blocking(move || {
        let doc = crate::ops::probe::active_pipelines(&server.home)
            .map_err(|e| ApiError::internal(&e))?;
        Ok(document(&doc))
    })
    .await
}

async fn history(State(server): State<Arc<Server>>) -> Answer {
    blocking(move || {
        let doc = crate::ops::inspect::history(&server.home).map_err(|e| ApiError::internal(&e))?;
        Ok(document(&doc))
    })
    .await
}

async fn updates(State(server): State<Arc<Server>>) -> Answer {
    blocking(move || {
        let doc = crate::ops::check::updates(&server.home, &server.settings, Arc::new(Silent), &[])
            .map_err(|e| ApiError::internal(&e))?;
        Ok(document(&doc))
    })
    .await
}

/// `202 {"job": ID}`; `command` is what history records (`install fx`).
fn queued(jobs: &Jobs, kind: &str, work: Work, command: String, from: From) -> Answer {
    let asked = Asked {
        command,
        from: from.0.ip().to_string(),
    };
    match jobs.submit(kind, work, asked) {
        Some(id) => Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/api/v1/jobs/{id}"))],
            Json(json!({"job": id})),
        )
            .into_response()),
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )),
    }
}

/// The client's address.
type From = ConnectInfo<std::net::SocketAddr>;

async fn install(State(server): State<Arc<Server>>, from: From, bytes: Bytes) -> Answer {
    let asked: bodies::Install = body(&bytes)?;
    blocking(move || {
        let flags = RefFlags {
            branch: asked.branch,
            tag: asked.tag,
            rev: asked.rev,
        };
        let mode = if asked.dry_run {
            Mode::DryRun
        } else {
            Mode::Apply
        };
        let command = format!("install {}", asked.spec);
        let request = requests::install(
            &server.settings,
            &[asked.spec],
            asked.registry.as_deref(),
            &flags,
            mode,
        )
        .map_err(|e| ApiError::bad(&e))?;
        queued(
            &server.jobs,
            "install",
            Work::Change(request),
            command,
            from,
        )
    })
    .await
}

/// A plugin name from the path: checked as the CLI checks names, and
/// installed (404 otherwise).
fn installed(server: &Server, name: &str) -> Result<(), ApiError> {
    let name = scope_name::PluginName::new(name).map_err(|e| ApiError::bad(&e.into()))?;
    let desired = server
        .home
        .plugins_toml()
        .map_err(|e| ApiError::internal(&e))?;
    if desired.plugins().get(&name).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("`{name}` is not in plugins.toml"),
        ));
    }
    Ok(())
}

async fn uninstall(
    State(server): State<Arc<Server>>,
    from: From,
    Path(name): Path<String>,
) -> Answer {
    blocking(move || {
        installed(&server, &name)?;
        let command = format!("uninstall {name}");
        let request = requests::uninstall(&[name]).map_err(|e| ApiError::bad(&e))?;
        queued(
            &server.jobs,
            "uninstall",
            Work::Change(request),
            command,
            from,
        )
    })
    .await
}

async fn reload(State(server): State<Arc<Server>>, from: From, Path(name): Path<String>) -> Answer {
    blocking(move || {
        installed(&server, &name)?;
        let request = requests::reload(&server.home, &name).map_err(|e| ApiError::bad(&e))?;
        let command = format!("reload {name}");
        queued(&server.jobs, "reload", Work::Change(request), command, from)
    })
    .await
}

async fn update(State(server): State<Arc<Server>>, from: From, bytes: Bytes) -> Answer {
    let asked: bodies::Update = body(&bytes)?;
    blocking(move || {
        let request =
            requests::update(&server.home, &asked.names, false).map_err(|e| ApiError::bad(&e))?;
        let command = ["update".to_owned()]
            .into_iter()
            .chain(asked.names)
            .collect::<Vec<_>>()
            .join(" ");
        queued(&server.jobs, "update", Work::Change(request), command, from)
    })
    .await
}

async fn sync(State(server): State<Arc<Server>>, from: From, bytes: Bytes) -> Answer {
    let _: bodies::Nothing = body(&bytes)?;
    queued(
        &server.jobs,
        "sync",
        Work::Change(crate::ops::change::ChangeRequest::sync()),
        "sync".into(),
        from,
    )
}

async fn rollback(State(server): State<Arc<Server>>, from: From, bytes: Bytes) -> Answer {
    let asked: bodies::Rollback = body(&bytes)?;
    let command = match asked.to {
        Some(n) => format!("rollback --to {n}"),
        None => "rollback".into(),
    };
    queued(
        &server.jobs,
        "rollback",
        Work::Rollback(asked.to),
        command,
        from,
    )
}

async fn import(State(server): State<Arc<Server>>, from: From, bytes: Bytes) -> Answer {
    let asked: bodies::Import = body(&bytes)?;
    if asked.reference.starts_with("oci://") {
        crate::oci::registry::Target::parse(&asked.reference).map_err(|e| ApiError::bad(&e))?;
    }
    let command = format!("import {}", asked.reference);
    queued(
        &server.jobs,
        "import",
        Work::Import(asked.reference, Vec::new()),
        command,
        from,
    )
}

fn job_id(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, format!("`{id}` is not a job id")))
}

async fn job(State(server): State<Arc<Server>>, Path(id): Path<String>) -> Answer {
    let id = job_id(&id)?;
    match server.jobs.get(id) {
        Some(job) => Ok(document(&job)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}"))),
    }
}

/// The job's log so far, then its new lines as they come, as Server-Sent
/// Events (`event: log` / `event: state`); ends with the job.
async fn job_events(
    State(server): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let id = job_id(&id)?;
    // Subscribe first: nothing said between the snapshot and the
    // subscription is lost (a line may come twice, never not at all).
    let receiver = server.jobs.subscribe();
    let Some(snapshot) = server.jobs.get(id) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}")));
    };
    let done = matches!(snapshot.state, JobState::Succeeded | JobState::Failed);
    let past: Vec<SseEvent> = snapshot
        .log
        .iter()
        .map(|line| SseEvent::default().event("log").data(line))
        .chain(std::iter::once(
            SseEvent::default().event("state").data(
                serde_json::to_value(snapshot.state)
                    .unwrap_or(Value::Null)
                    .as_str()
                    .unwrap_or(""),
            ),
        ))
        .collect();
    let live = stream::unfold((receiver, done), move |(mut receiver, done)| async move {
        if done {
            return None;
        }
        loop {
            match receiver.recv().await {
                Ok(event) if event.job == id => {
                    let ended = event.kind == "state"
                        && (event.text == "succeeded" || event.text == "failed");
                    let sse = SseEvent::default().event(event.kind).data(event.text);
                    return Some((Ok(sse), (receiver, ended)));
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    });
    let past = stream::iter(past.into_iter().map(Ok));
    Ok(Sse::new(futures_util::StreamExt::chain(past, live)).keep_alive(KeepAlive::default()))
}

/// Asks the supervised stream over its control socket.
async fn ask_stream(server: Arc<Server>, command: Command) -> Result<(Value, Vec<u8>), ApiError> {
    blocking(move || {
        let instance = server.instance.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no stream: start the server with host arguments, e.g. `scopectl serve -- run --input - --pipeline invert --output -`",
            )
        })?;
        let (answer, bytes) = control::request(&instance, &command)
            .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, ErrorParts::of(&e)))?;
        if answer["ok"] != Value::Bool(true) {
            let message = answer["error"].as_str().unwrap_or("the stream refused").to_owned();
            return Err(ApiError::new(StatusCode::BAD_REQUEST, message));
        }
        Ok((answer, bytes))
    })
    .await
}

async fn stream_status(State(server): State<Arc<Server>>) -> Answer {
    let (answer, _) = ask_stream(server, Command::Status).await?;
    Ok(Json(answer["status"].clone()).into_response())
}

async fn stream_params(State(server): State<Arc<Server>>, bytes: Bytes) -> Answer {
    let asked: bodies::Params = body(&bytes)?;
    let params = asked.sets();
    ask_stream(server, Command::Set { params }).await?;
    Ok(Json(json!({"ok": true})).into_response())
}

async fn restart(State(server): State<Arc<Server>>, bytes: Bytes) -> Answer {
    let asked: bodies::Params = body(&bytes)?;
    let params = asked.sets();
    ask_stream(server, Command::Restart { params }).await?;
    Ok(Json(json!({"ok": true})).into_response())
}

async fn snapshot(State(server): State<Arc<Server>>) -> Answer {
    let (_, png) = ask_stream(server, Command::Snapshot).await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}
