//! Running the host in-process, with its output captured.

#![allow(dead_code)]

use std::ffi::OsString;
use std::io::Write;
use std::sync::{Arc, Mutex};

use scope_host::{execute, Io, Plugin};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

pub struct Outcome {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `scope-host ARGS` with these plugins and this stdin.
pub fn host(plugins: &[Plugin], args: &str, stdin: Vec<u8>) -> Outcome {
    let (stdout, stderr) = (Buffer::default(), Buffer::default());
    let io = Io {
        stdin: Box::new(std::io::Cursor::new(stdin)),
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(stderr.clone()),
        stdout_is_terminal: false,
        handle_signals: false,
    };
    let args: Vec<OsString> = args.split_whitespace().map(OsString::from).collect();
    let status = execute(plugins, args, io);
    Outcome {
        status,
        stdout: stdout.bytes(),
        stderr: stderr.text(),
    }
}

/// Raw rgb24 output cut into frames of `size` bytes.
pub fn rgb_frames(bytes: &[u8], size: usize) -> Vec<Vec<u8>> {
    assert_eq!(bytes.len() % size, 0, "whole frames");
    bytes.chunks(size).map(<[u8]>::to_vec).collect()
}
