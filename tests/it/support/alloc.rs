//! The test binary's allocator: `scope-test-support`'s counting one, so a
//! test can prove that no buffer is sized by what an input only claims
//! ([`largest_during`], per thread).

pub use scope_test_support::alloc::largest_during;
use scope_test_support::alloc::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;
