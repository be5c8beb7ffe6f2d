#!/usr/bin/env bash
# The long scribbler run: 10^7 random writes (or $RINGWAY_SCRIBBLE_WRITES)
# into the rings a victim process is working on, in a release build
# (ring/tests/scribbler.rs). Prints the victim's tally and the deadline
# overrun it saw: how many deadline calls were more than 10 ms late by wall
# time (over_10ms), the most CPU time one of those used (late_max_cpu_us),
# how many of them the kernel preempted or that slept (late_preempted,
# late_slept), and how many ran more than 10 ms past the deadline on the
# CPU (cpu_over_10ms: a loop that ignores its deadline). Takes a few
# minutes on a 2-core machine. The C API's scribbler runs long with
# RINGWAY_C_SCRIBBLE_WRITES=10000000 bash ffi/check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export RINGWAY_SCRIBBLE_WRITES="${RINGWAY_SCRIBBLE_WRITES:-10000000}"
start=$(date +%s)
cargo test --release -p ringway --test scribbler -- --nocapture 2>&1 | grep -E "scribbler:|test result|panicked|failed"
echo "scribble-long: $RINGWAY_SCRIBBLE_WRITES writes, $(( $(date +%s) - start )) s in total (uptime: $(uptime | sed 's/.*load/load/'))"
