#!/usr/bin/env bash
# loom models of every protocol, over the real code, preemption bound 2 (or
# $LOOM_MAX_PREEMPTIONS: scripts/loom-bound3.sh runs it with 3),
# release mode (the models run the ring and sync crates under --cfg loom).
set -euo pipefail
export RUSTFLAGS="--cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
start=$(date +%s)
cargo test --release -p ringway-loom-tests -p ringway-sync --tests
echo "loom models (bound $LOOM_MAX_PREEMPTIONS) took $(( $(date +%s) - start )) s"
