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

hyperfine -N --warmup 2 --runs 20 \
  --prepare "$scopectl -q rollback --to 2" -n "rollback" "$scopectl -q rollback --to 3" \
  -n "no-op sync" "$scopectl -q sync" \
  -n "reinstall of an installed spec" "$scopectl -q install $invert" 2>&1 | grep -E "^Benchmark|Time"

# The same host crate scopectl generates, built by hand: touch its main.rs so
# cargo relinks, as an install of a plugin whose crates are compiled does.
hand="$work/hand"
cp -r "$work/home/build/host" "$hand"
hyperfine --runs 5 \
  --prepare "$scopectl -q uninstall color-generator" -n "scopectl install (warm)" "$scopectl -q install $color" \
  --prepare "touch $hand/main.rs" -n "cargo build of the same crate" "cargo build --release -q --manifest-path $hand/Cargo.toml" \
  2>&1 | grep -E "^Benchmark|Time|±"
