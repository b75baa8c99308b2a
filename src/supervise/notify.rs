//! systemd's `Type=notify` protocol, spoken without libsystemd: datagrams
//! to `$NOTIFY_SOCKET` saying `READY=1` once the stream runs (its first
//! frame out, or the host started when the supervisor holds no output),
//! `STATUS=…` as frames go out, `WATCHDOG=1` at half of `$WATCHDOG_USEC`
//! while the supervisor is alive, and `STOPPING=1` at the end.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::control::Live;

/// Where systemd listens, and its watchdog period.
#[derive(Debug, Clone)]
pub struct Systemd {
    /// `$NOTIFY_SOCKET`: a path, or `@name` in the abstract namespace.
    pub socket: String,
    /// `$WATCHDOG_USEC`, when it is set. (`$WATCHDOG_PID` is not checked:
    /// under `sh -c '… | scopectl serve …'` it names the shell; such a
    /// unit needs `NotifyAccess=all`.)
    pub watchdog: Option<Duration>,
}

impl Systemd {
    /// Sends one datagram; systemd's absence is not an error of ours, and
    /// a full queue (a reader that does not keep up) drops the message
    /// rather than stalling the stream.
    pub fn send(&self, message: &str) {
        let Ok(socket) = UnixDatagram::unbound() else {
            return;
        };
        if socket.set_nonblocking(true).is_err() {
            return;
        }
        let _ = match self.socket.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .and_then(|address| socket.send_to_addr(message.as_bytes(), &address))
            }
            None => socket.send_to(message.as_bytes(), PathBuf::from(&self.socket)),
        };
    }

    /// Watches `live` until `done`: READY once running, STATUS when the
    /// count changes, WATCHDOG on time; STOPPING when done.
    pub fn watch(self, live: Arc<Live>, done: Arc<AtomicBool>) -> JoinHandle<()> {
        std::thread::spawn(move || {
            let tick = Duration::from_millis(50);
            let mut ready = false;
            let mut said = u64::MAX;
            let mut petted = Instant::now();
            while !done.load(Ordering::SeqCst) {
                let (frames, running) = live.progress();
                if !ready && (frames > 0 || (running && !live.holds_output())) {
                    self.send("READY=1");
                    ready = true;
                }
                if ready && frames != said && (said == u64::MAX || frames % 30 == 0) {
                    self.send(&format!("STATUS={frames} frames out"));
                    said = frames;
                }
                if let Some(period) = self.watchdog {
                    if petted.elapsed() >= period / 2 {
                        self.send("WATCHDOG=1");
                        petted = Instant::now();
                    }
                }
                std::thread::sleep(tick);
            }
            self.send("STOPPING=1");
        })
    }
}
