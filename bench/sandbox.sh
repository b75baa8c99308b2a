#!/usr/bin/env bash
# What the sandbox costs.
#
# 1. Host start: `scopectl run` of one testsrc frame, with `--sandbox off`
#    and with the sandbox (Landlock + seccomp, best-effort), 30 paired
#    interleaved runs; the difference of the medians is the set-up cost.
#    Target: <= 5 ms.
# 2. Per frame: 1080p, 120 frames through `invert` under `scopectl run`,
#    stdin to stdout, sandbox off against on (bench/stream_pairs.py).
#    Target: unchanged (1.00x).
# 3. A host build: `scopectl build --force` of a home with `invert`, off
#    against on (the sandboxed build first runs `cargo fetch` and `cargo
#    metadata`, then builds offline under Landlock), 5 runs each.
#
# Needs ffmpeg (apt-get install -y ffmpeg).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/video.sh
home=$PWD/$work/sandbox-home
rm -rf "$home"
$scopectl --home "$home" install ./fixtures/plugins/invert >/dev/null 2>&1

start() {
  $scopectl --home "$home" --sandbox "$1" run -- run --input testsrc --frames 1 \
    --pipeline invert --output null >/dev/null 2>&1
}
python3 - "$scopectl" "$home" <<'PY'
import statistics, subprocess, sys, time
scopectl, home = sys.argv[1], sys.argv[2]
def once(mode):
    started = time.perf_counter()
    subprocess.run([scopectl, "--home", home, "--sandbox", mode, "run", "--", "run",
                    "--input", "testsrc", "--frames", "1", "--pipeline", "invert",
                    "--output", "null"], check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000
times = {"off": [], "best-effort": []}
for _ in range(30):
    for mode in times:
        times[mode].append(once(mode))
off, on = (statistics.median(times[m]) for m in ("off", "best-effort"))
print(f"host start (scopectl run, 1 frame), 30 paired runs: sandbox off {off:.1f} ms, on {on:.1f} ms: +{on - off:.1f} ms (target <= 5 ms)")
PY

off="$scopectl --home $home --sandbox off run -- run --input - --pipeline invert --output - < $input 2>/dev/null | cat > /dev/null"
on="$scopectl --home $home run -- run --input - --pipeline invert --output - < $input 2>/dev/null | cat > /dev/null"
echo "1080p, $frames frames under scopectl run: sandbox off against on, ${RUNS:-10} paired runs"
python3 bench/stream_pairs.py "${RUNS:-10}" 0 "$frames" "sandbox off" "$off" "sandbox on" "$on"

for mode in off best-effort; do
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e" $scopectl --home "$home" --sandbox "$mode" build --force 2>&1 >/dev/null | tail -1
  done | sort -n | sed -n 3p | xargs printf "build --force, sandbox %s: median %s s\n" "$mode"
done
