#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for RINGWAY_FUZZ_SECONDS
# each (default 600), starting from fuzz/corpus/TARGET; new inputs go to a
# scratch corpus (the committed corpus stays small). Prints, per target, the
# executions, the time and the coverage libFuzzer reports; a crash fails the
# run and leaves its input in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${RINGWAY_FUZZ_SECONDS:-600}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../target}/fuzz"
cargo +nightly fuzz build
for target in open ops; do
    scratch=$(mktemp -d)
    start=$(date +%s)
    log="$scratch/log"
    if ! cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz $target: CRASH or HANG (an input ran over 10 s; input in fuzz/artifacts/$target)"
        rm -rf "$scratch"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1)
    echo "fuzz $target: ${runs:-?} executions in $(( $(date +%s) - start )) s, ${cov:-cov: ?}, ${ft:-ft: ?}, no crash"
    rm -rf "$scratch"
done
