#!/usr/bin/env bash
# Package-manager timings (hyperfine): rollback, a no-op sync, a reinstall
# of an installed spec, and a warm install of one small path plugin next to
# `cargo build` of the same host crate by hand with the same warm target
# directory. Needs hyperfine (apt-get install -y hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SCOPE_NO_PROGRESS=1 CARGO_TARGET_DIR="$PWD/target/bench-hosts"
scopectl="$PWD/target/release/scopectl --home $work/home"
invert="$PWD/fixtures/plugins/invert"
color="$PWD/fixtures/plugins/color-generator"

$scopectl -q install "$invert"
$scopectl -q install "$color"
$scopectl -q uninstall color-generator

hyperfine -N --warmup 3 --runs 30 --export-json "$work/noop.json" \
  --prepare "$scopectl -q rollback --to 2" -n "rollback" "$scopectl -q rollback --to 3" \
  -n "no-op sync" "$scopectl -q sync" \
  -n "reinstall of an installed spec" "$scopectl -q install $invert" >/dev/null
echo "whole processes, 30 runs each (target: median <= 10 ms):"
python3 - "$work/noop.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"  {r['command']:<32} median {r['median'] * 1000:5.1f} ms  (min {r['min'] * 1000:.1f}, max {r['max'] * 1000:.1f})")
PY

# The same change by hand: the host crate scopectl generates, without and
# with the plugin; each timed run starts from the built "without" state and
# adds the plugin (manifest and main.rs), then runs cargo, as an install does.
hand="$work/hand"
$scopectl -q uninstall color-generator
cp -r "$work/home/build/host" "$work/without"
$scopectl -q install "$color"
cp -r "$work/home/build/host" "$work/with"
cp -r "$work/without" "$hand"
reset="cp $work/without/Cargo.toml $work/without/main.rs $hand/ && cargo build --release -q --manifest-path $hand/Cargo.toml"
change="cp $work/with/Cargo.toml $work/with/main.rs $hand/ && cargo build --release -q --manifest-path $hand/Cargo.toml"
hyperfine --runs 5 \
  --prepare "$scopectl -q uninstall color-generator" -n "scopectl install (warm)" "$scopectl -q install $color" \
  --prepare "$reset" -n "cargo build of the same change by hand" "$change" \
  2>&1 | grep -E "^Benchmark|Time|±"
