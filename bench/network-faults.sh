#!/usr/bin/env bash
# Network faults: a loopback proxy that breaks answers (resets before and
# mid-body, stalls, trickles, wrong Content-Lengths, 429 with and without
# Retry-After, 5xx bursts, 403/404, a checksum mismatch) between scopectl
# and the fixture registry, and between scopectl and a git HTTP server
# (git's own http-backend). Prints each case of the client-level table, then
# runs the scopectl-level cases (home unchanged after every failure).
#
#   bench/network-faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -q -p scope-registry-client --test faults -- --nocapture 2>&1 | grep -E ' x[0-9]+: |test result|panicked'
cargo test -q --test it network_faults:: -- --nocapture --test-threads 1 2>&1 | grep -E ' x[0-9]+ on |test result|panicked'
