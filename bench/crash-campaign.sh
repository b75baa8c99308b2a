#!/usr/bin/env bash
# The crash campaign, long form: real mutating commands (install from a
# path, from git and from a registry, uninstall, build, sync, rollback,
# import, gc) killed
# with SIGKILL — scopectl and the cargo, rustc and git it runs — at random
# instants; after each kill the next command must recover and the home be
# as before or the complete new generation, with `doctor` clean.
#
#   bench/crash-campaign.sh [TRIALS] [SEED]     (default 500 trials, a new seed)
#   SCOPE_CRASH_ONLY="install registry" bench/crash-campaign.sh 100   (one command)
set -euo pipefail
cd "$(dirname "$0")/.."
export SCOPE_CRASH_TRIALS=${1:-500}
[ -n "${2:-}" ] && export SCOPE_CRASH_SEED=$2
cargo test -q --test it crash_campaign:: -- --nocapture 2>&1 | grep -v '^$'
