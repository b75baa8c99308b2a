//! A git smart-HTTP server on loopback for tests: each request runs git's
//! own `git http-backend` as a CGI program over a directory of
//! repositories, so clients meet the real protocol (what a forge serves),
//! and a [`FaultProxy`](super::FaultProxy) can stand in front of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Serves every repository under a root directory as
/// `http://127.0.0.1:PORT/<name>`.
pub struct GitHttpServer {
    port: u16,
    refused: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl GitHttpServer {
    /// Starts serving `root` on a free loopback port.
    pub fn start(root: &Path) -> GitHttpServer {
        Self::serve(root, None)
    }

    /// Like [`GitHttpServer::start`], answering only requests whose
    /// `Authorization` header is `authorization` (e.g. `Basic …`); others
    /// get `401 Unauthorized`, as a forge's private repository does.
    pub fn start_private(root: &Path, authorization: &str) -> GitHttpServer {
        Self::serve(root, Some(authorization.to_owned()))
    }

    fn serve(root: &Path, authorization: Option<String>) -> GitHttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let root = root.to_owned();
        let refused = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = refused.clone();
        let connections = requests.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                connections.fetch_add(1, Ordering::SeqCst);
                let root = root.clone();
                let authorization = authorization.clone();
                let refused = counted.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, &root, authorization.as_deref(), &refused);
                });
            }
        });
        GitHttpServer {
            port,
            refused,
            requests,
        }
    }

    /// How many connections clients opened so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// How many requests were refused for want of the login so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The URL of the repository in directory `name` under the root.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.address())
    }
}

/// A request as read off the connection.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
    };
    request.body = read_body(
        reader,
        request.header("content-length"),
        request.header("transfer-encoding"),
    )?;
    Ok(request)
}

/// The body after the headers: `Content-Length` bytes, or chunks.
pub(super) fn read_body(
    reader: &mut impl BufRead,
    content_length: Option<&str>,
    transfer_encoding: Option<&str>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if let Some(length) = content_length {
        let length: u64 = length.trim().parse().unwrap_or(0);
        reader.take(length).read_to_end(&mut body)?;
    } else if transfer_encoding.is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Ok(body)
}

fn serve(
    client: TcpStream,
    root: &PathBuf,
    authorization: Option<&str>,
    refused: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let request = read_request(&mut reader)?;
    if authorization.is_some_and(|wanted| request.header("authorization") != Some(wanted)) {
        refused.fetch_add(1, Ordering::SeqCst);
        let mut client = client;
        write!(
            client,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"scope test\"\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return client.flush();
    }
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_remove("GIT_DIR")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", &request.path)
        .env("QUERY_STRING", &request.query)
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, variable) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(value) = request.header(name) {
            cgi.env(variable, value);
        }
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let body = request.body;
    let feeder = std::thread::spawn(move || stdin.write_all(&body));
    let mut output = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut output)?;
    let _ = feeder.join();
    child.wait()?;
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            output
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .unwrap_or((0, 0));
    let head = String::from_utf8_lossy(&output[..split.0]).into_owned();
    let body = &output[split.1..];
    let mut status = "200 OK".to_owned();
    let mut answer = String::new();
    for line in head.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_owned();
            }
            _ => answer.push_str(&format!("{line}\r\n")),
        }
    }
    let mut client = client;
    write!(
        client,
        "HTTP/1.1 {status}\r\n{answer}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    client.write_all(body)?;
    client.flush()
}
