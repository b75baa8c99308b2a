//! A loopback proxy that breaks answers on purpose: between a client and
//! an HTTP server (the fixture registry), it forwards each request and
//! damages the answer as the next queued [`Fault`] says.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    faults: Arc<Mutex<VecDeque<Fault>>>,
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
                let fault = faults.lock().unwrap().pop_front();
                requests.fetch_add(1, Ordering::SeqCst);
                let (upstream, me) = (upstream.clone(), me.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &me, fault);
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
        let mut faults = self.faults.lock().unwrap();
        faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Connections made to the proxy so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(client: TcpStream, upstream: &str, me: &str, fault: Option<Fault>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let end = line == "\r\n";
        request.extend(line.replace(me, upstream).into_bytes());
        if end {
            break;
        }
    }
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
