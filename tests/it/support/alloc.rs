//! The test binary's allocator: the system's, remembering the largest
//! single allocation made by a thread while it measures, so a test can
//! prove that no buffer is sized by what an input only claims. Per thread,
//! so that the other tests running beside it do not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// The largest allocation since [`largest_during`] began on this
    /// thread; `None` when the thread is not measuring.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

fn saw(size: usize) {
    // `try_with`: a thread being torn down has no locals left.
    let _ = LARGEST.try_with(|largest| {
        if let Some(so_far) = largest.get() {
            largest.set(Some(so_far.max(size)));
        }
    });
}

// SAFETY: every call is passed to the system allocator unchanged; the only
// addition is a maximum kept in a constant-initialised thread local, which
// never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        saw(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        saw(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work` and returns its result and the largest single allocation
/// this thread made meanwhile.
pub fn largest_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(Some(0)));
    let result = work();
    let largest = LARGEST.with(|largest| largest.take()).unwrap_or(0);
    (result, largest)
}
