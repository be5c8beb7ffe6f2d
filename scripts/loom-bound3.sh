#!/usr/bin/env bash
# The loom models at preemption bound 3 (CI runs bound 2). Prints the time.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOOM_MAX_PREEMPTIONS=3
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
exec bash .ci/steps/20-loom.sh
