#!/usr/bin/env bash
# Each cargo-fuzz target for a short fixed time (RINGWAY_FUZZ_SECONDS,
# default 30) from the corpus in fuzz/corpus, when nightly and cargo-fuzz are
# present; a clear skip otherwise. scripts/fuzz-long.sh runs them long.
set -euo pipefail
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: SKIPPED (needs the nightly toolchain and cargo-fuzz: cargo +nightly install cargo-fuzz)"
    exit 0
fi
export RINGWAY_FUZZ_SECONDS="${RINGWAY_FUZZ_SECONDS:-30}"
bash scripts/fuzz-long.sh
