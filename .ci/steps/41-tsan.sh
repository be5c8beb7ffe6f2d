#!/usr/bin/env bash
# ThreadSanitizer over the in-process stress tests (scripts/tsan.sh), when
# the nightly toolchain with rust-src is present; a clear skip otherwise.
set -euo pipefail
if ! rustc +nightly --version >/dev/null 2>&1 \
    || [ ! -d "$(rustc +nightly --print sysroot)/lib/rustlib/src/rust/library" ]; then
    echo "tsan: SKIPPED (no nightly toolchain with rust-src; rustup component add --toolchain nightly rust-src)"
    exit 0
fi
start=$(date +%s)
bash scripts/tsan.sh
echo "tsan took $(( $(date +%s) - start )) s"
