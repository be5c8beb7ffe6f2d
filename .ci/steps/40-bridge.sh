#!/usr/bin/env bash
# The Zenoh bridge (bridge/): its own Cargo workspace and target directory
# (bridge/target), so the core's build and `cargo test --workspace` never
# compile Zenoh. fmt, clippy, rustdoc and its tests (the two-process loopback
# tests included), under one time limit: a Zenoh build that runs away fails
# this step instead of the CI budget. From a clean target directory on the
# 2-core development machine at a load average of 17 to 27 (shared), clippy
# alone took 20 min wall for 3 min of CPU and the step hit this limit in the
# test build; a clean `cargo build --all-targets` at load 5 to 10 took 6 min
# 48 s wall for 3 min 25 s of CPU. Not yet measured on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/../../bridge"
export CARGO_TARGET_DIR="${BRIDGE_TARGET_DIR:-target}"
limit="${BRIDGE_CI_TIMEOUT:-1500}"
start=$(date +%s)
timeout "$limit" bash -euo pipefail -c '
    cargo fmt --check
    cargo clippy --locked --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --lib --quiet
    cargo test --locked
'
echo "bridge step took $(( $(date +%s) - start )) s (limit ${limit} s)"
