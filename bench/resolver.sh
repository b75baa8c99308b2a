#!/usr/bin/env bash
# Resolver timings (median of 11 runs each): large random universes,
# backtracking, and failure reports. Target: 50 ms per case.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p scope-resolver --example resolver-bench
