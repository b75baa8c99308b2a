#!/usr/bin/env bash
# `scopectl update --check` over 50 registry plugins with 100 ms of added
# latency per request. Target: at most 3 round trips.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
cargo run --release -q --example update-check-bench
