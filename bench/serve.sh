#!/usr/bin/env bash
# `scopectl serve` under load:
# 1. the stream's throughput with the HTTP server on, against `scopectl run`
#    (1080p, 120 frames of y4m through `invert`); target >= 0.95x;
# 2. latency and requests/s of `GET /health` and `GET /api/v1/plugins` on
#    loopback while a 1080p stream runs (a sequential keep-alive client);
# 3. what the status page's live preview costs the stream: `serve` with a
#    client fetching the snapshot twice a second (as the page does) against
#    `serve` with none (600 generated 1080p frames); target <= 2 %;
# 4. a screenshot of the status page (target/bench/status-page.png, not
#    committed) from headless chromium.
#
# Needs ffmpeg and chromium (apt-get install -y ffmpeg chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/video.sh
home=$PWD/$work/serve-home
rm -rf "$home"
$scopectl --home "$home" install ./fixtures/plugins/invert >/dev/null 2>&1

host_args="run --input $input --pipeline invert --output -"
runs=${RUNS:-10}
echo "1080p, $frames frames: $runs paired interleaved runs ($(nproc) cores); medians"
python3 bench/stream_pairs.py "$runs" 0 "$frames" \
  "scopectl run" "$scopectl --home $home run -- $host_args 2>/dev/null | cat > /dev/null" \
  "scopectl serve" "$scopectl --home $home serve --listen 127.0.0.1:0 -- $host_args 2>/dev/null | cat > /dev/null"
echo "  target: serve / run throughput >= 0.95"

preview_port=7872
long_args="run --input testsrc --size 1920x1080 --frames 600 --pipeline invert --output -"
poll="while :; do curl -s -o /dev/null http://127.0.0.1:$preview_port/api/v1/stream/snapshot.png; sleep 0.5; done"
echo "the live preview's cost: 600 generated 1080p frames, $runs paired runs"
python3 bench/stream_pairs.py "$runs" 0 600 \
  "serve" "$scopectl --home $home serve --listen 127.0.0.1:$preview_port -- $long_args 2>/dev/null | cat > /dev/null" \
  "serve+preview" "($poll) & poller=\$!; $scopectl --home $home serve --listen 127.0.0.1:$preview_port -- $long_args 2>/dev/null | cat > /dev/null; kill \$poller"
echo "  target: serve+preview / serve throughput >= 0.98"

port=7871
ffmpeg -v error -stream_loop -1 -i "$input" -f yuv4mpegpipe - 2>/dev/null \
  | $scopectl --home "$home" serve --listen 127.0.0.1:$port -- run --input - --pipeline invert --output - \
    2>"$work/serve.log" | cat > /dev/null &
trap 'pkill -f "serve --listen 127.0.0.1:$port" || true; pkill -f "stream_loop -1 -i $input" || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
echo "requests on loopback while a 1080p stream runs (2000 each, one keep-alive connection):"
python3 - "$port" <<'PY'
import http.client, sys, time
port = int(sys.argv[1])
conn = http.client.HTTPConnection("127.0.0.1", port)
for path in ["/health", "/api/v1/plugins"]:
    times = []
    for _ in range(2000):
        t = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t)
    times.sort()
    total = sum(times)
    print(f"  GET {path:<16} p50 {times[1000]*1000:6.2f} ms  p99 {times[1980]*1000:6.2f} ms  {2000/total:7.0f} req/s")
PY
chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 \
  --user-data-dir="$work/chromium" --window-size=1200,1000 \
  --screenshot="$PWD/$work/status-page.png" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
[ -f "$work/status-page.png" ] && echo "status page: $work/status-page.png"
