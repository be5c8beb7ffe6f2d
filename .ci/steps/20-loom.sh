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
# The crates that carry the loom facade also lint clean under it (tests and
# examples included: they gate what needs real mappings on not(loom)). The
# rest of the workspace is not loom-aware (tokio, the CLI).
cargo clippy -p ringway -p ringway-sync -p ringway-loom-tests --all-targets -- -D warnings
