#!/usr/bin/env bash
# What owning the stream costs `scopectl run`, and how long a handoff takes.
#
# 1. Throughput at 1080p (120 frames of y4m through `invert`, stdin to
#    stdout): the bare host against the host under `scopectl run`, which
#    reads and writes the stream itself and lends whole frames to the
#    host's pipes (vmsplice). Target: supervised >= 0.95x bare.
# 2. The handoff gap: a 320x240 stream at 30 fps under `scopectl run`,
#    switched between two generations with `rollback` (activation without a
#    build) and with `ctl restart`; the gap is the time from the decision to
#    switch (SIGHUP / the request) to the first frame out of the new host.
#    Target: <= 100 ms.
#
# Needs ffmpeg and hyperfine (apt-get install -y ffmpeg hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/video.sh
home=$PWD/$work/stream-home
rm -rf "$home"
$scopectl --home "$home" install ./fixtures/plugins/invert >/dev/null 2>&1
$scopectl --home "$home" reload scope-invert >/dev/null 2>&1 # generation 2
host=$home/bin/scope-host

bare="$host run --input - --pipeline invert --output - < $input 2>/dev/null | cat > /dev/null"
supervised="$scopectl --home $home run -- run --input - --pipeline invert --output - < $input 2>/dev/null | cat > /dev/null"
hyperfine --warmup 1 --runs 5 --export-json "$work/stream.json" \
  -n "scope-host" "$bare" -n "scopectl run" "$supervised" >/dev/null
echo "1080p, $frames frames, stdin to stdout (median of 5 runs, $(nproc) cores)"
python3 - "$work/stream.json" "$frames" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
frames = int(sys.argv[2])
fps = {r["command"]: frames / r["median"] for r in results}
for name, value in fps.items():
    print(f"  {name:<14} {value:8.1f} fps")
print(f"  ratio scopectl run / scope-host: {fps['scopectl run'] / fps['scope-host']:.2f}")
PY
/usr/bin/time -f "  peak memory, bare host: %M KiB" \
  $host run --input - --pipeline invert --output - < "$input" 2>&1 >/dev/null | grep "peak memory" || true
/usr/bin/time -f "  peak memory, the largest process of scopectl run: %M KiB" \
  $scopectl --home "$home" run -- run --input - --pipeline invert --output - < "$input" 2>&1 >/dev/null \
  | grep "peak memory" || true

log=$work/stream-gaps.log
ffmpeg -v error -re -f lavfi -i testsrc=size=320x240:rate=30 -t 12 -pix_fmt yuv420p \
  -f yuv4mpegpipe - | $scopectl --home "$home" run -- run --input - --pipeline invert \
  --output - 2>"$log" | cat > /dev/null &
sleep 1.5
for to in 1 2 1 2; do
  $scopectl --home "$home" rollback --to $to >/dev/null 2>&1
  sleep 1
done
for _ in 1 2 3; do
  $scopectl --home "$home" ctl restart >/dev/null 2>&1
  sleep 1
done
wait
echo "handoff gaps at 320x240, 30 fps (decision to the new host's first frame):"
grep -o "Handed over.*" "$log" | sed 's/^/  /'
