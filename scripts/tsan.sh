#!/usr/bin/env bash
# ThreadSanitizer over the in-process stress tests (threads on one ring).
# Needs the nightly toolchain with rust-src; not a CI gate. Cross-process
# tests are left out: TSan sees one process only.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/tsan"
export RUSTFLAGS="-Zsanitizer=thread"
export RUSTDOCFLAGS="-Zsanitizer=thread"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
target=$(rustc +nightly -vV | sed -n 's/^host: //p')
cargo +nightly test -Zbuild-std --target "$target" -p ringway \
    --test spsc --test heap --test blocking --test no_syscalls --test mpmc \
    -- --skip child_entry --skip a_million_messages
