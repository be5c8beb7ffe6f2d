#!/usr/bin/env bash
# The long scribbler run: 10^7 random writes (or $RINGWAY_SCRIBBLE_WRITES)
# into the rings a victim process is working on, in a release build
# (ring/tests/scribbler.rs). Prints the victim's tally and the deadline
# overrun it saw. Takes a few minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export RINGWAY_SCRIBBLE_WRITES="${RINGWAY_SCRIBBLE_WRITES:-10000000}"
start=$(date +%s)
cargo test --release -p ringway --test scribbler -- --nocapture 2>&1 | grep -E "scribbler:|test result|panicked|failed"
echo "scribble-long: $RINGWAY_SCRIBBLE_WRITES writes, $(( $(date +%s) - start )) s in total (uptime: $(uptime | sed 's/.*load/load/'))"
