#!/usr/bin/env bash
# The host's `invert` on a 1080p, 120-frame y4m, side by side with ffmpeg doing
# the same work (YUV→RGB, negate, RGB→YUV) and with ffmpeg's plain `negate`
# (which works on YUV directly). Prints frames per second, peak memory and
# the host's per-stage busy time.
#
# Needs ffmpeg and hyperfine (apt-get install -y ffmpeg hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/video.sh

# A new home each time: `demo` in an existing one keeps its host, built
# with whatever SDK the scopectl of that day embedded.
rm -rf "$work/home"
$scopectl demo --home "$work/home" --frames 1 --output "$work/demo.y4m" >/dev/null 2>&1
host="$work/home/bin/scope-host"

ours="$host run --pipeline invert --input $input --output -"
# intensity 0.7 is not a bit flip: map_float's general table lookup.
blend="$host run --pipeline invert --set intensity=0.7 --input $input --output -"
# No deadline (--frame-timeout 0): no watchdog.
direct="$host run --pipeline invert --frame-timeout 0 --input $input --output -"
chain="$host run --pipeline invert --pipeline invert --pipeline invert --pipeline invert --input $input --output -"
same="ffmpeg -v error -i $input -vf format=rgb24,negate,format=yuv420p -f yuv4mpegpipe -"
plain="ffmpeg -v error -i $input -vf negate -f yuv4mpegpipe -"

hyperfine --warmup 1 --runs 5 --export-json "$work/invert.json" \
  -n scope-host "$ours > /dev/null" \
  -n "ffmpeg rgb24,negate" "$same > /dev/null" \
  -n "ffmpeg negate" "$plain > /dev/null" \
  -n "scope-host intensity=0.7" "$blend > /dev/null" \
  -n "scope-host invert x4" "$chain > /dev/null" \
  -n "scope-host --frame-timeout 0" "$direct > /dev/null" >/dev/null

echo "1080p, $frames frames (median of 5 runs, $(nproc) cores)"
python3 - "$work/invert.json" "$frames" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
frames = int(sys.argv[2])
fps = {r["command"]: frames / r["median"] for r in results}
for name, value in fps.items():
    print(f"  {name:<26} {value:8.1f} fps")
print(f"  ratio scope-host / ffmpeg rgb24,negate: {fps['scope-host'] / fps['ffmpeg rgb24,negate']:.2f}")
print(f"  ratio scope-host / ffmpeg negate:        {fps['scope-host'] / fps['ffmpeg negate']:.2f}  (target >= 1.0)")
PY
for name in scope-host same plain chain; do
  case $name in scope-host) cmd=$ours;; same) cmd=$same;; plain) cmd=$plain;; chain) cmd=$chain;; esac
  /usr/bin/time -f "  peak memory $name: %M KiB" $cmd 2>&1 >/dev/null | grep "peak memory" || true
done
echo "where the host's time goes (busy seconds per stage: input = parse + YUV→RGB,"
echo "invert = the pipeline, output = RGB→YUV + write):"
$ours 2>&1 >/dev/null | sed 's/^/  /'
