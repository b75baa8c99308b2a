#!/usr/bin/env bash
# A fleet server's two ways to a plugin set: import the generation built
# once (from an OCI registry on loopback), or build the same lock from
# source on a fresh home (`sync --locked`, a cold target directory). The
# generation has the three example plugins. Prints both times and the ratio.
#
# Needs docker-registry (apt-get install -y docker-registry).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$PWD/target/bench/fleet
rm -rf "$work" && mkdir -p "$work"
cargo build --release -q
scopectl=$PWD/target/release/scopectl
a=$work/a
$scopectl --home "$a" install ./fixtures/plugins/invert ./fixtures/plugins/color-generator \
  ./fixtures/plugins/temporal-blend >/dev/null 2>&1

port=5079
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry=$!
trap 'kill $registry' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
$scopectl --home "$a" push "oci://127.0.0.1:$port/scope/fleet:v1" >/dev/null 2>&1

seconds() { python3 -c "import time,subprocess,sys; t=time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(f'{time.perf_counter()-t:.3f}')" "$@"; }
imported=$(CARGO=/bin/false seconds $scopectl --home "$work/b" import "oci://127.0.0.1:$port/scope/fleet:v1")
mkdir -p "$work/c"
cp "$a/plugins.toml" "$a/resolved.lock" "$work/c/"
built=$(CARGO_TARGET_DIR="$work/c-target" seconds $scopectl --home "$work/c" sync --locked)
cmp -s "$work/b/resolved.lock" "$work/c/resolved.lock" && same=yes || same=no
echo "a 3-plugin generation on a fresh home ($(nproc) cores):"
echo "  import from a loopback registry    ${imported} s (no toolchain: CARGO=/bin/false)"
echo "  build the same lock from source     ${built} s (sync --locked, cold target directory)"
python3 -c "print(f'  ratio: {float(\"$built\") / float(\"$imported\"):.0f}x faster to import')"
echo "  the same resolved.lock on both: $same"

# A shared compile cache for the machines that do build: the same lock
# built twice on a fresh home at the same path (as on two machines set up
# alike), with a cold target directory each time, through sccache (its
# local disk cache, empty for the first).
if command -v sccache >/dev/null 2>&1; then
  export SCCACHE_DIR=$work/sccache
  sccache --stop-server >/dev/null 2>&1 || true
  for name in cold warm; do
    rm -rf "$work/farm" "$work/farm-target"
    mkdir -p "$work/farm"
    cp "$a/plugins.toml" "$a/resolved.lock" "$work/farm/"
    sccache --zero-stats >/dev/null 2>&1 || true
    eval "$name=\$(RUSTC_WRAPPER=sccache CARGO_TARGET_DIR=\$work/farm-target seconds $scopectl --home \$work/farm sync --locked)"
    hits=$(sccache --show-stats 2>/dev/null | awk '/^Cache hits /{print $3}' | head -1)
    misses=$(sccache --show-stats 2>/dev/null | awk '/^Cache misses /{print $3}' | head -1)
    eval "${name}_stats=\"\$hits hits, \$misses misses\""
  done
  echo "with RUSTC_WRAPPER=sccache (local disk cache), the same lock at the same path:"
  echo "  cache empty     ${cold} s ($cold_stats)"
  echo "  cache warm      ${warm} s ($warm_stats)"
  python3 -c "print(f'  ratio: {float(\"$cold\") / float(\"$warm\"):.1f}x')"
  sccache --stop-server >/dev/null 2>&1 || true
else
  echo "(sccache not installed: apt-get install -y sccache, to measure a shared compile cache)"
fi
