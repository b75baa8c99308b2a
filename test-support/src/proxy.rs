//! A loopback proxy that breaks answers on purpose: between a client and
//! an HTTP server (the fixture registry, the git server), it forwards each request and
//! damages the answer as the next queued [`Fault`] says.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::git_http::read_body;

/// What to do to one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection before answering.
    ResetBeforeAnswer,
    /// Send the headers and half the body, then close.
    ResetMidBody,
    /// Send the headers and half the body, then send nothing for this long.
    Stall(Duration),
    /// Send everything, this many bytes at a time with this pause between.
    Trickle(usize, Duration),
    /// Claim more bytes than the body has (`Content-Length` + 100), then close.
    LongContentLength,
    /// Claim fewer bytes than the body has (`Content-Length` / 2).
    ShortContentLength,
    /// Answer with this status and an empty body, and `Retry-After` when given.
    Status(u16, Option<u32>),
}

/// The proxy: `url` stands for the server's address.
pub struct FaultProxy {
    port: u16,
    upstream: String,
    faults: Arc<Mutex<VecDeque<(String, Fault)>>>,
    requests: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Proxies `upstream` (`127.0.0.1:PORT`) on a free loopback port.
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let proxy = FaultProxy {
            port,
            upstream: upstream.to_owned(),
            faults: Arc::default(),
            requests: Arc::default(),
        };
        let (faults, requests, upstream) = (
            proxy.faults.clone(),
            proxy.requests.clone(),
            upstream.to_owned(),
        );
        let me = format!("127.0.0.1:{port}");
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                requests.fetch_add(1, Ordering::SeqCst);
                let (upstream, me, faults) = (upstream.clone(), me.clone(), faults.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &me, &faults);
                });
            }
        });
        proxy
    }

    /// `url`, with the server's address replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        url.replace(&self.upstream, &format!("127.0.0.1:{}", self.port))
    }

    /// Damages the next `times` answers with `fault`.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.inject_on("", fault, times);
    }

    /// Damages the next `times` answers to requests whose path contains
    /// `path` with `fault`.
    pub fn inject_on(&self, path: &str, fault: Fault, times: usize) {
        let mut faults = self.faults.lock().unwrap();
        faults.extend(std::iter::repeat_n((path.to_owned(), fault), times));
    }

    /// Faults injected and not yet used.
    pub fn pending(&self) -> usize {
        self.faults.lock().unwrap().len()
    }

    /// Connections made to the proxy so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(
    client: TcpStream,
    upstream: &str,
    me: &str,
    faults: &Mutex<VecDeque<(String, Fault)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let fault = {
        let mut faults = faults.lock().unwrap();
        let index = faults.iter().position(|(on, _)| path.contains(on.as_str()));
        index.and_then(|i| faults.remove(i)).map(|(_, fault)| fault)
    };
    let mut request = request_line.into_bytes();
    let (mut content_length, mut transfer_encoding) = (None, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        // A body goes on with its length, however it came.
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                content_length = Some(value.to_owned());
            }
            Some((name, value)) if name.eq_ignore_ascii_case("transfer-encoding") => {
                transfer_encoding = Some(value.to_owned());
            }
            _ => request.extend(line.replace(me, upstream).into_bytes()),
        }
    }
    let body = read_body(
        &mut reader,
        content_length.as_deref(),
        transfer_encoding.as_deref(),
    )?;
    if content_length.is_some() || transfer_encoding.is_some() {
        request.extend(format!("Content-Length: {}\r\n", body.len()).into_bytes());
    }
    request.extend(b"\r\n");
    request.extend(body);
    let mut client = client;
    match fault {
        Some(Fault::ResetBeforeAnswer) => return Ok(()),
        Some(Fault::Status(code, retry_after)) => {
            let retry = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
            let answer = format!(
                "HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\n{retry}Connection: close\r\n\r\n"
            );
            return client.write_all(answer.as_bytes());
        }
        _ => {}
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&request)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |i| i + 4);
    let (head, body) = answer.split_at(split);
    // Addresses in bodies (config.json's `dl`) point at the proxy too.
    let body = String::from_utf8(body.to_vec())
        .map(|text| text.replace(upstream, me).into_bytes())
        .unwrap_or_else(|e| e.into_bytes());
    let length = match fault {
        Some(Fault::LongContentLength) => body.len() + 100,
        Some(Fault::ShortContentLength) => body.len() / 2,
        _ => body.len(),
    };
    let head: String = String::from_utf8_lossy(head)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {length}\r\n")
            } else {
                format!("{l}\r\n")
            }
        })
        .collect();
    client.write_all(head.as_bytes())?;
    client.write_all(b"\r\n")?;
    let half = body.len() / 2;
    match fault {
        Some(Fault::ResetMidBody) => client.write_all(&body[..half]),
        Some(Fault::Stall(pause)) => {
            client.write_all(&body[..half])?;
            client.flush()?;
            std::thread::sleep(pause);
            Ok(())
        }
        Some(Fault::Trickle(bytes, pause)) => {
            for chunk in body.chunks(bytes.max(1)) {
                client.write_all(chunk)?;
                client.flush()?;
                std::thread::sleep(pause);
            }
            Ok(())
        }
        _ => client.write_all(&body),
    }
}
