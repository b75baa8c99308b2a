//! The supervisor's frame buffers, reused (for frames held in memory;
//! on Linux most are held in pipes instead, see `piped`): every frame of a stream has the
//! same size, and a buffer that went back to the allocator comes back as
//! fresh pages to fault in (tens of thousands of page faults per hundred
//! 1080p frames). A frame's buffer is kept here when its last holder lets
//! it go — the in-flight queue once the host answered it, the window of
//! frames lent to a pipe (`pipe_io::Lent`) once the pipe let it go, the
//! "latest frame" of the output once a newer one came — and the next frame
//! read is read into it.

use std::sync::Mutex;

use super::held::Held;
use super::session::{lock, Shared};

/// At most this many spare buffers are kept (the frames between the
/// reader, the host and the output's lent window are in use, not spare).
const KEPT: usize = 8;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer to read the next frame into (empty when none is spare).
pub fn take() -> Vec<u8> {
    lock(&SPARE).pop().unwrap_or_default()
}

/// Lets `frame` go; its buffer is kept if this was its last holder.
pub fn release(frame: Shared) {
    if let Some(Held::Bytes(frame)) = std::sync::Arc::into_inner(frame) {
        let mut spare = lock(&SPARE);
        if spare.len() < KEPT {
            spare.push(frame.data);
        }
    }
}
