//! A counting allocator for test binaries: the system's, counting what it
//! hands out. A binary installs it with
//! `#[global_allocator] static ALLOCATOR: Counting = Counting;`, then asks
//!
//! - [`largest_during`]: the largest single allocation this thread made
//!   meanwhile — per thread, so tests running beside it do not count (does
//!   any buffer take a size an input only claims?);
//! - [`peak_during`]: how far the whole process's heap rose — for a test
//!   binary that runs that measurement alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The allocator.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The largest allocation since [`largest_during`] began on this
    /// thread; `None` when the thread is not measuring.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
    // `try_with`: a thread being torn down has no locals left.
    let _ = LARGEST.try_with(|largest| {
        if let Some(so_far) = largest.get() {
            largest.set(Some(so_far.max(by)));
        }
    });
}

// SAFETY: every call is passed to the system allocator unchanged; the only
// additions are atomic counters and a maximum in a constant-initialised
// thread local, none of which allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Both blocks may be live while the bytes move.
        grew(new_size);
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        moved
    }
}

/// Runs `work` and returns its result and the largest single allocation
/// this thread made meanwhile (0 if [`Counting`] is not installed).
pub fn largest_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(Some(0)));
    let result = work();
    let largest = LARGEST.with(|largest| largest.take()).unwrap_or(0);
    (result, largest)
}

/// Runs `work` and returns its result and how far the process's heap rose
/// above where it was when `work` started.
pub fn peak_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let result = work();
    (result, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}
