#!/usr/bin/env bash
# The frame path's kernels, each timed alone on one 1080p frame on one core:
# YUV 4:2:0 -> RGB, RGB -> YUV 4:2:0 (yuvutils-rs) and the SDK's map_float
# (the invert table), next to the same table applied a byte at a time and a
# plain XOR pass over the frame (the memory bound).
#
#   bench/frame-kernels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p scope-host --example frame-kernels
