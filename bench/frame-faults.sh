#!/usr/bin/env bash
# Every frame accounted for, at length: the `chaos` test plugin breaks the
# frame contract between two `invert`s, RUNS times per fault (default 100),
# through `scopectl run`; each run counts the frames that came out of 60.
# The last column (frames lost and exit status 0) must be 0.
#
# Needs ffmpeg (ffprobe). tests/it/frame_faults.rs runs the short form in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-100}
work=target/bench/frame-faults
mkdir -p "$work"
cargo build --release -q
scopectl=$PWD/target/release/scopectl
export SCOPE_HOME=$PWD/$work/home SCOPE_HOST_PROFILE=${SCOPE_HOST_PROFILE:-release}
$scopectl install ./fixtures/plugins/invert ./fixtures/test-plugins/chaos >/dev/null 2>&1
input=$work/in.y4m
[ -f "$input" ] || ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=30 \
  -frames:v 60 -pix_fmt yuv420p "$input"

printf '%-8s %5s %14s %22s %18s\n' fault runs "frames out=in" "lost, exit non-zero" "lost, exit 0"
for fault in panic err zero short double resize hang abort; do
  every=false
  [ "$fault" = abort ] && every=true
  whole=0 lost_failed=0 lost_ok=0
  for _ in $(seq "$runs"); do
    status=0
    $scopectl run -- run --input "$input" --pipeline invert --pipeline chaos --pipeline invert \
      --set chaos.fault=$fault --set chaos.at=10 --set chaos.every=$every \
      --set chaos.hang_seconds=5 --frame-timeout 0.5 \
      --output "$work/out.y4m" 2>/dev/null || status=$?
    frames=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames \
      -of csv=p=0 "$work/out.y4m" 2>/dev/null || echo 0)
    if [ "${frames:-0}" = 60 ]; then
      whole=$((whole + 1))
    elif [ "$status" != 0 ]; then
      lost_failed=$((lost_failed + 1))
    else
      lost_ok=$((lost_ok + 1))
    fi
  done
  printf '%-8s %5d %14d %22d %18d\n' "$fault" "$runs" "$whole" "$lost_failed" "$lost_ok"
done
