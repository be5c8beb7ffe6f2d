#!/usr/bin/env bash
# Miri over the ring code, using rings in heap memory (no mapping: Miri
# cannot map shm or memfd) and the layout/unit tests. Needs the nightly
# toolchain with the miri component; not a CI gate.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri"
# Isolation off: the ring reads /proc/self/stat for the creator's start time.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
cargo +nightly miri test -p ringway --test heap
cargo +nightly miri test -p ringway --lib layout
cargo +nightly miri test -p ringway --lib copy
