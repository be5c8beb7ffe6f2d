#!/usr/bin/env bash
# Miri over the heap-memory rings and the layout tests (scripts/miri.sh),
# when the nightly toolchain with the miri component is present; a clear
# skip otherwise. Budget: see the README (Testing).
set -euo pipefail
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri: SKIPPED (no nightly toolchain with the miri component; rustup component add --toolchain nightly miri)"
    exit 0
fi
start=$(date +%s)
bash scripts/miri.sh
echo "miri took $(( $(date +%s) - start )) s"
