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
