#!/usr/bin/env bash
# A cold install in a fresh home whose user cache already compiled the
# plugin's third-party crates once (through another home), next to cargo
# building the same host crate by hand with the same warm target
# directory, with the Cargo.lock the first home wrote and without one (a
# fresh home has no lock: like cargo without one, it resolves the graph
# against the registry). The plugin is `scopectl new`'s template using rayon (from the
# default registry, through cargo). Target: the install <= 1.2x cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset CARGO_TARGET_DIR
export SCOPE_NO_PROGRESS=1 SCOPE_CACHE_DIR="$work/cache"
scopectl="$PWD/target/release/scopectl"
runs=${RUNS:-5}

cd "$work"
"$scopectl" -q new rayon-fx >/dev/null
sed -i '/^\[dependencies\]/a rayon = "1"' rayon-fx/Cargo.toml
# The template's pipeline, with its rows inverted in parallel.
sed -i 's|^use scope_plugin_api::|use rayon::prelude::*;\nuse scope_plugin_api::|' rayon-fx/src/lib.rs
cat >>rayon-fx/src/lib.rs <<'RS'

/// Uses rayon, so the host links it.
pub fn parallel_sum(values: &[u32]) -> u64 {
    values.par_iter().map(|&v| u64::from(v)).sum()
}
RS

start=$(date +%s.%N)
"$scopectl" --home "$work/first" -q install ./rayon-fx
echo "first home (cold cache: compiles rayon and the SDK): $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"
target=$(ls -d "$work"/cache/targets/*)
echo "compiled crates: $target ($(du -sh "$target" | cut -f1))"

# Each run: a fresh home; the cache keeps what the first home compiled.
hyperfine --runs "$runs" \
  --prepare "rm -rf $work/fresh" -n "scopectl install in a fresh home" \
  "$scopectl --home $work/fresh -q install ./rayon-fx" \
  --prepare "rm -rf $work/hand && cp -r $work/first/build/host $work/hand && sed -i 's/^name = \"scope-host-[0-9a-f]*\"/name = \"hand-host\"/' $work/hand/Cargo.toml" \
  -n "cargo build of the same host crate by hand" \
  "env CARGO_TARGET_DIR=$target cargo build --release -q --manifest-path $work/hand/Cargo.toml" \
  --prepare "rm -rf $work/hand && cp -r $work/first/build/host $work/hand && rm $work/hand/Cargo.lock && sed -i 's/^name = \"scope-host-[0-9a-f]*\"/name = \"hand-host\"/' $work/hand/Cargo.toml" \
  -n "the same by hand without its Cargo.lock (cargo resolves, as a fresh home must)" \
  "env CARGO_TARGET_DIR=$target cargo build --release -q --manifest-path $work/hand/Cargo.toml" \
  --export-json "$work/times.json" 2>&1 | grep -E "^Benchmark|Time|±"
python3 - "$work/times.json" <<'PY'
import json, sys
ours, locked, lockless = (r["mean"] for r in json.load(open(sys.argv[1]))["results"])
print(f"install / cargo without a lock: {ours / lockless:.2f} (target <= 1.2); / cargo with one: {ours / locked:.2f}")
PY
