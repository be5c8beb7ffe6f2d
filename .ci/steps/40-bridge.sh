#!/usr/bin/env bash
# The Zenoh bridge (bridge/): its own Cargo workspace and target directory,
# so the core's build and `cargo test --workspace` never compile Zenoh.
# fmt, clippy and its tests (the two-process loopback test included), bounded
# in time: a Zenoh build that runs away fails the step instead of the budget.
set -euo pipefail
cd "$(dirname "$0")/../../bridge"
export CARGO_TARGET_DIR="${BRIDGE_TARGET_DIR:-target}"
limit="${BRIDGE_CI_TIMEOUT:-1200}"
start=$(date +%s)
cargo fmt --check
timeout "$limit" cargo clippy --locked --all-targets -- -D warnings
timeout "$limit" cargo test --locked
echo "bridge step took $(( $(date +%s) - start )) s (limit ${limit} s per cargo command)"
