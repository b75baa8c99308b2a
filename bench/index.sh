#!/usr/bin/env bash
# Index fetches: 50 crates from the fixture registry on loopback with 100 ms
# of added latency per request, all at once against one at a time.
# Target: at most 3 round trips.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p scope-registry-client --example index-bench
