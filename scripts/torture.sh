#!/usr/bin/env bash
# The long crash torture (ring/tests/torture.rs): RINGWAY_TORTURE_KILLS
# SIGKILLs in all (default 10000) of SPSC producers, SPSC consumers, MPMC
# producers and MPMC consumers over shm and file rings, with restarts;
# prints, per scenario,
# kills, messages, lost, duplicated, the longest detection and the longest
# stall, then per way the survivor waited the detection's p50/p99/max and
# its split (kill -> exit, the child's, the killer's and the survivor's
# run delays) and the longest one's split. Release build. Takes roughly
# kills x 40-80 ms on the development machine (2 cores, load 4-6).
set -euo pipefail
cd "$(dirname "$0")/.."
export RINGWAY_TORTURE_KILLS="${RINGWAY_TORTURE_KILLS:-10000}"
start=$(date +%s)
cargo test --release -p ringway --test torture -- --nocapture 2>&1 | grep -E -A2 "^torture |^  |test result|panicked|FAILED"
echo "torture: $RINGWAY_TORTURE_KILLS kills took $(( $(date +%s) - start )) s"
