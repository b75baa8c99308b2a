#!/usr/bin/env bash
# The frame path's kernels, each timed alone on one 1080p frame on one core:
# YUV 4:2:0 -> RGB, RGB -> YUV 4:2:0 and the SDK's map_float
# (invert, a bit flip; v * v, a general table), next to v * v's table applied
# a byte at a time and a copy of the frame (the memory bound).
#
#   bench/frame-kernels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p scope-host --example frame-kernels
