#!/usr/bin/env bash
# Mutation fuzzing, long form: every parser that reads outside input (y4m,
# plugins.toml with edits, resolved.lock, plugin specs, --set values, host
# command lines, control requests, index entries, docker's config.json, the
# HTTP API's bodies, .crate archives unpacked) fed mutants of valid
# seeds; a panic fails with the input and the seed that replays it.
#
#   bench/fuzz.sh [ITERATIONS] [SEED]     (default 1,000,000 per target)
set -euo pipefail
cd "$(dirname "$0")/.."
export SCOPE_FUZZ_ITERATIONS=${1:-1000000}
[ -n "${2:-}" ] && export SCOPE_FUZZ_SEED=$2
cargo test --release -q --test it fuzz:: -- --nocapture --test-threads 4 2>&1 | grep -E 'inputs|panicked|test result'
