#!/usr/bin/env bash
# Artifact fetching: a 1 GB artifact over loopback, `scopectl fetch` (which
# fetches, verifies and stores it) against `curl` writing the same URL to a
# file (target: >= 0.9x curl's throughput) and against curl verifying as it
# writes (`curl | tee FILE | openssl dgst -sha256`, the same work as ours),
# then a fetch killed half-way (kill -9) and resumed: the second run asks
# for the rest with `Range`.
#
# The server is a small Python HTTP server that answers `Range`. Needs
# curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
scopectl=$PWD/target/release/scopectl
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
size=${SIZE:-1073741824}
runs=${RUNS:-5}
export SCOPE_NO_PROGRESS=1 SCOPE_CACHE_DIR="$work/cache"

head -c "$size" /dev/urandom > "$work/model.bin"
sha=$(sha256sum "$work/model.bin" | cut -d' ' -f1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$work" "$port" > "$work/server.log" 2>&1 <<'PY' &
import http.server, os, sys
root, port = sys.argv[1], int(sys.argv[2])
class Ranged(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(root, self.path.lstrip("/"))
        size = os.path.getsize(path)
        start = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes=") and ranged.endswith("-"):
            start = int(ranged[6:-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        print(f"GET {self.path} {ranged or 'whole'}", flush=True)
        with open(path, "rb") as f:
            f.seek(start)
            os.sendfile(self.wfile.fileno(), f.fileno(), start, size - start)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Ranged).serve_forever()
PY
server=$!
sleep 0.5
url="http://127.0.0.1:$port/model.bin"

# A plugin declaring it; installed once, so the home's lock pins it.
(cd "$work" && "$scopectl" -q new model-fx >/dev/null)
cat >> "$work/model-fx/Cargo.toml" <<TOML

[package.metadata.scope.artifacts]
model = { url = "$url", sha256 = "$sha", size = $size }
TOML
"$scopectl" --home "$work/home" -q install "$work/model-fx"
blob="$work/cache/artifacts/sha256/$sha"

echo "a $((size >> 20)) MiB artifact over loopback, $runs interleaved runs each (median):"
python3 - "$runs" "$size" "$scopectl --home $work/home -q fetch" "$blob" "$url" "$work/curl.out" <<'PY'
import os, statistics, subprocess, sys, time
runs, size, fetch, blob, url, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
def drop(path):
    if os.path.exists(path):
        os.chmod(path, 0o644)
        os.remove(path)
def run(command, before):
    before()
    # The last run's gigabyte is written back to disk before the next
    # starts: each starts with the same clean page cache.
    os.sync()
    time.sleep(1.5)
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True)
    return time.perf_counter() - start
# Interleaved, in turns whose order alternates: what one command leaves
# (a gigabyte freed on the disk, written in small or large pieces) is met
# by the others as often as by itself.
commands = {
    "fetch": (fetch, lambda: drop(blob)),
    "curl": (f"curl -sf -o {out} {url}", lambda: drop(out)),
    "hashed": (f"curl -sf {url} | tee {out} | openssl dgst -sha256 > /dev/null", lambda: drop(out)),
}
times = {name: [] for name in commands}
for turn in range(runs):
    order = list(commands.items())
    if turn % 2:
        order.reverse()
    for name, (command, before) in order:
        times[name].append(run(command, before))
drop(out)
present = run(fetch, lambda: None)
median = {name: statistics.median(t) for name, t in times.items()}
spread = {name: f"{min(t):.2f}-{max(t):.2f} s" for name, t in times.items()}
ours, curl, hashed = median["fetch"], median["curl"], median["hashed"]
mb = size / 1e6
print(f"  curl -o FILE          {curl:6.2f} s  {mb / curl:7.0f} MB/s  (runs: {spread['curl']})")
print(f"  curl | tee | openssl  {hashed:6.2f} s  {mb / hashed:7.0f} MB/s  (runs: {spread['hashed']}; writes and hashes, as a verified fetch must)")
print(f"  scopectl fetch        {ours:6.2f} s  {mb / ours:7.0f} MB/s  (runs: {spread['fetch']}; fetch, verify, store; {present:.2f} s of it is the rest of `fetch`, measured with the artifact present)")
print(f"  scopectl / curl throughput: {curl / ours:.2f} (target >= 0.9); against curl | tee | openssl: {hashed / ours:.2f}")
PY

echo "killed half-way (kill -9), then resumed:"
chmod u+w "$blob" && rm -f "$blob"
"$scopectl" --home "$work/home" -q fetch &
fetching=$!
partial="$work/cache/artifacts/partial/$sha"
while [ "$(stat -c %s "$partial" 2>/dev/null || echo 0)" -lt $((size / 2)) ]; do sleep 0.01; done
kill -9 $fetching; wait $fetching 2>/dev/null || true
left=$(stat -c %s "$partial")
start=$(date +%s.%N)
"$scopectl" --home "$work/home" -q fetch
echo "  partial after kill -9: $((left >> 20)) MiB; resumed in $(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')") s"
echo "  the server saw: $(tail -2 "$work/server.log" | tr '\n' ';')"
[ -f "$blob" ] && echo "  verified and stored: $blob"
