use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::hex;

/// Switches that make the fixture registry misbehave, for the next requests.
#[derive(Debug, Default, Clone)]
pub struct Switches {
    /// Requests must carry `Authorization: <token>`; `config.json` says `auth-required`.
    pub token: Option<String>,
    /// Answer this many requests with 500 first.
    pub fail_next: u32,
    /// Answer this many requests with 429 and `Retry-After: 1` first.
    pub rate_limit_next: u32,
    /// Send bodies this slowly: the first bytes, then a pause of this length.
    pub stall_body: Option<Duration>,
    /// Send this many bodies cut short (fewer bytes than `Content-Length`).
    pub truncate_next: u32,
    /// Latency added to every answer.
    pub latency: Duration,
    /// Write optional fields as explicit nulls (`"api": null`, a
    /// dependency's `"registry": null`) and dependencies without `kind`, as
    /// some registry servers do.
    pub explicit_nulls: bool,
}

#[derive(Default)]
struct State {
    /// Index lines per crate.
    index: BTreeMap<String, Vec<String>>,
    /// `.crate` archives by (name, version).
    crates: BTreeMap<(String, String), Vec<u8>>,
    switches: Switches,
    /// Every request path, in order.
    requests: Vec<String>,
    /// How many answers were `304 Not Modified`.
    not_modified: usize,
    /// Answers given as they are, by request path.
    raw: BTreeMap<String, (Arc<Vec<u8>>, Length)>,
}

/// What a raw answer's `Content-Length` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// The body's length.
    Exact,
    /// This many bytes, whatever the body is (the connection closes after it).
    Claimed(u64),
    /// No `Content-Length`: the body ends when the connection closes.
    Omitted,
}

/// A sparse registry served on `127.0.0.1` from packages built in the test.
pub struct FixtureRegistry {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FixtureRegistry {
    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts serving on a free loopback port.
    pub fn start() -> FixtureRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = thread_state.clone();
                std::thread::spawn(move || serve(stream, &state, port));
            }
        });
        FixtureRegistry { port, state, stop }
    }

    /// The index URL, `sparse+http://127.0.0.1:PORT/index/`.
    pub fn index_url(&self) -> String {
        format!("sparse+http://127.0.0.1:{}/index/", self.port)
    }

    /// Changes the switches.
    pub fn switches(&self, change: impl FnOnce(&mut Switches)) {
        change(&mut self.state.lock().unwrap().switches);
    }

    /// Every request path received so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many answers were `304 Not Modified`.
    pub fn not_modified(&self) -> usize {
        self.state.lock().unwrap().not_modified
    }

    /// Marks `name` `version` yanked in the index, as `cargo yank` does.
    pub fn yank(&self, name: &str, version: &str) {
        let mut state = self.state.lock().unwrap();
        for line in state.index.get_mut(name).into_iter().flatten() {
            let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
            if entry["vers"] == version {
                entry["yanked"] = true.into();
                *line = entry.to_string();
            }
        }
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// Answers GETs of `path` with `body` as it is (shared, never copied:
    /// for bodies of hundreds of MiB), with `length` in the header.
    pub fn serve_raw(&self, path: &str, body: Arc<Vec<u8>>, length: Length) {
        let mut state = self.state.lock().unwrap();
        state.raw.insert(path.to_owned(), (body, length));
    }

    /// The URL path of the index file of `name` (`/index/3/a/abc`).
    pub fn index_file_path(name: &str) -> String {
        format!("/index/{}", index_path(name))
    }

    /// Publishes a `.crate` built elsewhere (e.g. a real one from cargo's
    /// cache, for a host build that uses this registry in place of the
    /// default one) with the index entry `package` describes (its
    /// dependencies, which must be on this registry too, and features).
    /// Returns its checksum.
    pub fn publish_archive(&self, package: Package, archive: Vec<u8>) -> String {
        self.publish_with(&package, archive)
    }

    fn publish(&self, package: &Package) -> String {
        self.publish_with(package, package.archive(&self.index_url()))
    }

    fn publish_with(&self, package: &Package, archive: Vec<u8>) -> String {
        let checksum = package
            .checksum_override
            .clone()
            .unwrap_or_else(|| hex(&Sha256::digest(&archive)));
        let normal = package.deps.iter().map(|dep| (dep, "normal"));
        let build = package.build_deps.iter().map(|dep| (dep, "build"));
        let deps: Vec<serde_json::Value> = normal
            .chain(build)
            .map(|((name, req), kind)| {
                let mut dep = serde_json::json!({
                    "name": name, "req": req, "features": [], "optional": false,
                    "default_features": true, "target": null, "kind": kind
                });
                if package.comes_from_here(name) {
                    let index = self.index_url();
                    dep["registry"] = index.trim_start_matches("sparse+").into();
                }
                dep
            })
            .collect();
        let mut line = serde_json::json!({
            "name": package.name, "vers": package.version, "deps": deps, "cksum": checksum,
            "features": package.features, "yanked": package.yanked
        });
        if let Some(time) = &package.pubtime {
            line["pubtime"] = time.clone().into();
        }
        let mut state = self.state.lock().unwrap();
        state
            .index
            .entry(package.name.clone())
            .or_default()
            .push(line.to_string());
        state
            .crates
            .insert((package.name.clone(), package.version.clone()), archive);
        checksum
    }
}

impl Drop for FixtureRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A crate to publish to a [`FixtureRegistry`].
pub struct Package {
    name: String,
    version: String,
    deps: Vec<(String, String)>,
    build_deps: Vec<(String, String)>,
    features: BTreeMap<String, Vec<String>>,
    yanked: bool,
    /// The index entry's `pubtime` (RFC 3339), when set.
    pubtime: Option<String>,
    files: Vec<(String, String)>,
    checksum_override: Option<String>,
    /// Plugin dependencies name this registry's index, as `cargo package`
    /// writes a dependency from a registry other than the default one.
    own_registry: bool,
}

impl Package {
    /// A crate with a `Cargo.toml` and an empty `src/lib.rs`.
    pub fn new(name: &str, version: &str) -> Package {
        Package {
            name: name.to_owned(),
            version: version.to_owned(),
            deps: Vec::new(),
            build_deps: Vec::new(),
            features: BTreeMap::new(),
            yanked: false,
            pubtime: None,
            files: Vec::new(),
            checksum_override: None,
            own_registry: false,
        }
    }

    /// Its dependencies (other than `scope-plugin-api`) come from this
    /// registry, not the default one: the packaged `Cargo.toml` says
    /// `registry-index`, the index line `registry`.
    pub fn deps_from_this_registry(mut self) -> Package {
        self.own_registry = true;
        self
    }

    /// A normal dependency.
    pub fn dep(mut self, name: &str, req: &str) -> Package {
        self.deps.push((name.to_owned(), req.to_owned()));
        self
    }

    /// A dependency on `scope-plugin-api`: this makes it a plugin.
    pub fn api(self, req: &str) -> Package {
        self.dep("scope-plugin-api", req)
    }

    /// Marks it yanked.
    /// A build dependency (of a build script), `req` as in `Cargo.toml`.
    pub fn build_dep(mut self, name: &str, req: &str) -> Package {
        self.build_deps.push((name.to_owned(), req.to_owned()));
        self
    }

    /// Declares feature `name`, enabling `enables`.
    pub fn feature(mut self, name: &str, enables: &[&str]) -> Package {
        let enables = enables.iter().map(|f| (*f).to_owned()).collect();
        self.features.insert(name.to_owned(), enables);
        self
    }

    /// Its index entry says it was published at `rfc3339` (`pubtime`).
    pub fn published_at(mut self, rfc3339: &str) -> Package {
        self.pubtime = Some(rfc3339.to_owned());
        self
    }

    /// Marks it yanked.
    pub fn yanked(mut self) -> Package {
        self.yanked = true;
        self
    }

    /// Adds a file to the archive.
    pub fn file(mut self, path: &str, contents: &str) -> Package {
        self.files.push((path.to_owned(), contents.to_owned()));
        self
    }

    /// Publishes it with a checksum that does not match its archive.
    pub fn wrong_checksum(mut self) -> Package {
        self.checksum_override = Some("0".repeat(64));
        self
    }

    /// Publishes it; returns the checksum in its index line.
    pub fn publish(self, registry: &FixtureRegistry) -> String {
        registry.publish(&self)
    }

    fn comes_from_here(&self, dep: &str) -> bool {
        self.own_registry && dep != "scope-plugin-api"
    }

    fn archive(&self, index_url: &str) -> Vec<u8> {
        let mut manifest = format!(
            "[package]\nname = \"{}\"\nversion = \"{}\"\nedition = \"2021\"\n\n[dependencies]\n",
            self.name, self.version
        );
        for (name, req) in &self.deps {
            if self.comes_from_here(name) {
                manifest.push_str(&format!(
                    "{name} = {{ version = \"{req}\", registry-index = \"{index_url}\" }}\n"
                ));
            } else {
                manifest.push_str(&format!("{name} = \"{req}\"\n"));
            }
        }
        // A plugin's library registers nothing unless the test gives it a body.
        let mut files = BTreeMap::from([
            ("Cargo.toml".to_owned(), manifest),
            (
                "src/lib.rs".to_owned(),
                "pub fn register_pipelines(_: &mut scope_plugin_api::Registry) {}\n".to_owned(),
            ),
        ]);
        if !self.deps.iter().any(|(name, _)| name == "scope-plugin-api") {
            files.insert("src/lib.rs".to_owned(), String::new());
        }
        files.extend(self.files.iter().cloned());
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(
                    &mut header,
                    format!("{}-{}/{path}", self.name, self.version),
                    contents.as_bytes(),
                )
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }
}

/// An index line as some servers write it: nulls for absent optional
/// fields, and dependencies without `kind`.
fn with_explicit_nulls(line: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(line).expect("our own lines parse");
    value["links"] = serde_json::Value::Null;
    for dep in value["deps"].as_array_mut().into_iter().flatten() {
        let dep = dep.as_object_mut().expect("a dependency is an object");
        dep.remove("kind");
        for key in ["registry", "package", "target"] {
            dep.insert(key.into(), serde_json::Value::Null);
        }
    }
    value.to_string()
}

/// The index path of a crate: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd...`.
fn index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", &lower[..1]),
        _ => format!("{}/{}/{lower}", &lower[..2], &lower[2..4]),
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>, port: u16) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let raw = state.lock().unwrap().raw.get(&path).cloned();
    if let Some((body, length)) = raw {
        // `Range: bytes=N-` (a resumed download) is answered with the rest;
        // the request is logged with it, so a test can see the resume.
        let from = headers
            .get("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < body.len());
        let logged = match from {
            Some(n) => format!("{path} Range: bytes={n}-"),
            None => path.clone(),
        };
        state.lock().unwrap().requests.push(logged);
        let start = from.unwrap_or(0);
        let rest = body.len() - start;
        let length = match length {
            Length::Exact => format!("Content-Length: {rest}\r\n"),
            Length::Claimed(n) => format!("Content-Length: {n}\r\n"),
            Length::Omitted => String::new(),
        };
        let status = match from {
            Some(n) => format!(
                "206 Partial Content\r\nContent-Range: bytes {n}-{}/{}",
                body.len() - 1,
                body.len()
            ),
            None => "200 OK".to_owned(),
        };
        let mut out = stream;
        let head = format!("HTTP/1.1 {status}\r\n{length}Connection: close\r\n\r\n");
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&body[start..]);
        return;
    }
    let (switches, answer) = {
        let mut state = state.lock().unwrap();
        state.requests.push(path.clone());
        let switches = state.switches.clone();
        let answer = answer(&mut state, &path, &headers, port);
        if answer.0 == 304 {
            state.not_modified += 1;
        }
        (switches, answer)
    };
    std::thread::sleep(switches.latency);
    let (status, extra, body) = {
        let mut s = state.lock().unwrap();
        if s.switches.fail_next > 0 {
            s.switches.fail_next -= 1;
            (500, String::new(), b"server error".to_vec())
        } else if s.switches.rate_limit_next > 0 {
            s.switches.rate_limit_next -= 1;
            (429, "Retry-After: 1\r\n".to_owned(), b"slow down".to_vec())
        } else {
            answer
        }
    };
    let truncate = status == 200 && {
        let mut s = state.lock().unwrap();
        let t = s.switches.truncate_next > 0;
        if t {
            s.switches.truncate_next -= 1;
        }
        t
    };
    let mut out = stream;
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = out.write_all(head.as_bytes());
    let sent = if truncate { body.len() / 2 } else { body.len() };
    match switches.stall_body {
        Some(pause) if status == 200 && !body.is_empty() => {
            let _ = out.write_all(&body[..1]);
            let _ = out.flush();
            std::thread::sleep(pause);
            let _ = out.write_all(&body[1..sent]);
        }
        _ => {
            let _ = out.write_all(&body[..sent]);
        }
    }
    let _ = out.flush();
    // Drain what the client still sends, then close.
    let _ = out.shutdown(std::net::Shutdown::Write);
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

fn answer(
    state: &mut State,
    path: &str,
    headers: &BTreeMap<String, String>,
    port: u16,
) -> (u16, String, Vec<u8>) {
    if let Some(token) = &state.switches.token {
        if headers.get("authorization") != Some(token) {
            return (401, String::new(), b"token required".to_vec());
        }
    }
    if path == "/index/config.json" {
        let mut config = serde_json::json!({
            "dl": format!("http://127.0.0.1:{port}/dl/{{crate}}/{{version}}/{{prefix}}/{{lowerprefix}}/{{sha256-checksum}}"),
            "auth-required": state.switches.token.is_some(),
        });
        if state.switches.explicit_nulls {
            config["api"] = serde_json::Value::Null;
        }
        return (200, String::new(), config.to_string().into_bytes());
    }
    if let Some(rest) = path.strip_prefix("/index/") {
        let name = rest.rsplit('/').next().unwrap_or("");
        if index_path(name) != rest {
            return (404, String::new(), Vec::new());
        }
        let Some(lines) = state.index.get(name) else {
            return (404, String::new(), Vec::new());
        };
        let lines: Vec<String> = if state.switches.explicit_nulls {
            lines.iter().map(|l| with_explicit_nulls(l)).collect()
        } else {
            lines.clone()
        };
        let body = lines.join("\n") + "\n";
        let etag = format!("\"{}\"", &hex(&Sha256::digest(body.as_bytes()))[..16]);
        if headers.get("if-none-match") == Some(&etag) {
            return (304, format!("ETag: {etag}\r\n"), Vec::new());
        }
        return (200, format!("ETag: {etag}\r\n"), body.into_bytes());
    }
    if let Some(rest) = path.strip_prefix("/dl/") {
        let parts: Vec<&str> = rest.split('/').collect();
        if let [name, version, ..] = parts.as_slice() {
            if let Some(archive) = state
                .crates
                .get(&((*name).to_owned(), (*version).to_owned()))
            {
                return (200, String::new(), archive.clone());
            }
        }
    }
    (404, String::new(), Vec::new())
}
