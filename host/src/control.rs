//! `run --control PATH`: a Unix socket on which the supervisor (`scopectl
//! run`) asks a running host how it is doing and changes its runtime
//! parameters. One request per line, one answer per line:
//!
//! - `status` → the JSON of [`Live::status_json`];
//! - `set<TAB>KEY=VALUE<TAB>…` (tab-separated, so values may hold spaces;
//!   all applied or none) → `ok`, or `error: MESSAGE` with the message
//!   `--set` would print.
//!
//! This is a private protocol between scopectl and the host it built; users
//! speak to scopectl (`scopectl ctl`), which speaks this.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::live::Live;

/// How often the recent rates are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Serves `live` on a socket at `path` for as long as the process runs.
#[cfg(unix)]
#[allow(clippy::disallowed_methods)] // the host keeps its dependencies lean (no fs-err)
pub fn serve(path: &Path, live: Arc<Live>) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;

    // A socket left by a host that was killed is in the way; nothing else
    // is ever at this path.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on `{}`: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict `{}`: {e}", path.display()))?;
    std::thread::spawn({
        let live = live.clone();
        move || loop {
            live.sample();
            std::thread::sleep(SAMPLE_EVERY);
        }
    });
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let live = live.clone();
            std::thread::spawn(move || {
                let mut writer = match stream.try_clone() {
                    Ok(w) => w,
                    Err(_) => return,
                };
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    let answer = answer(&live, &line);
                    if writeln!(writer, "{answer}").is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(())
}

#[cfg(not(unix))]
pub fn serve(_path: &Path, _live: Arc<Live>) -> Result<(), String> {
    Err("`--control` needs Unix sockets".into())
}

fn answer(live: &Live, line: &str) -> String {
    let mut words = line.split('\t');
    match words.next().map(str::trim) {
        Some("status") => live.status_json(),
        Some("set") => {
            let sets: Vec<String> = words.map(str::to_owned).collect();
            match live.set(&sets) {
                Ok(()) => "ok".into(),
                Err(message) => format!("error: {message}"),
            }
        }
        _ => format!("error: unknown request `{line}`; the host answers `status` and `set`"),
    }
}
