#!/usr/bin/env bash
# Resolver timings (median of 11 runs each): large random universes,
# backtracking, and failure reports. Target: 50 ms per case.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p scope-resolver --example resolver-bench
# The constrained-cousins universe (100 levels x 50 versions, no solution)
# as a whole process: one solve and its report. Target: <= 1 s, <= 100 MB.
PROFILE=cousins /usr/bin/time -f "  constrained cousins 100 x 50, whole process: %e s, peak %M KiB" \
  target/release/examples/resolver-bench
