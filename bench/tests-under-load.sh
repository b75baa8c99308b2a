#!/usr/bin/env bash
# The stream, supervise and serve tests RUNS times in a row (default 20)
# with BUSY CPU-bound processes (default 3) running beside them: the
# timing-sensitive tests must not depend on an idle machine.
#
#   bash bench/tests-under-load.sh            # RUNS=20 BUSY=3
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
busy=${BUSY:-3}
cargo test --test it --no-run --locked 2>/dev/null
binary=$(cargo test --test it --no-run --locked --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "it" and m.get("executable"):
        print(m["executable"])')
# The test binary runs outside cargo, whose rustup proxy would tell the
# cargo the tests spawn (under a scratch HOME) which toolchain to use.
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-$(rustup show active-toolchain | cut -d' ' -f1)}
pids=()
for _ in $(seq "$busy"); do
    (while :; do :; done) &
    pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
failed=0
for run in $(seq "$runs"); do
    start=$(date +%s%N)
    if "$binary" stream:: supervise:: serve:: >"/tmp/under-load-$run.log" 2>&1; then
        result=ok
    else
        result=FAILED
        failed=$((failed + 1))
    fi
    printf 'run %2d: %s in %d ms (%s)\n' "$run" "$result" \
        $((($(date +%s%N) - start) / 1000000)) "$(grep -o '[0-9]* passed; [0-9]* failed' "/tmp/under-load-$run.log" | tail -1)"
done
echo "$failed of $runs runs failed, with $busy busy processes beside them"
[ "$failed" -eq 0 ]
