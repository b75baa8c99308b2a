#!/usr/bin/env bash
# Resource limits, long form: an index file of 100 MB (claimed, and streamed
# without a length), a .crate claiming 2 GB (by Content-Length, and by a tar
# entry), a y4m header claiming 16384x16384 4:4:4, and a git repository of
# FILES files (default 100,000) installed while its peak RSS is sampled.
#
#   bench/limits.sh [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
export SCOPE_LIMIT_FILES=${1:-100000}
cargo test -q -p scope-registry-client --test it limits:: -- --nocapture 2>&1 | grep -E 'heap|test result|panicked'
cargo test -q --test it fuzz::a_claimed_frame_size -- --nocapture 2>&1 | grep -E 'test result|panicked'
cargo test -q --test it limits:: -- --nocapture 2>&1 | grep -E 'git repository|test result|panicked'
