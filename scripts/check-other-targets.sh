#!/usr/bin/env bash
# The ring, sync and C ABI crates must at least compile for macOS (ulock
# waits, no memfd, no posix_fallocate) and FreeBSD (the polling fallback).
# Needs `rustup target add x86_64-apple-darwin x86_64-unknown-freebsd`; not a
# CI gate (the targets are a download). The CLI is Linux-only (eventfd, POSIX
# queues, sched_setaffinity).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/other-targets"
for target in x86_64-apple-darwin x86_64-unknown-freebsd; do
    echo "== $target"
    cargo check -q -p ringway -p ringway-sync -p ringway-ffi --target "$target"
done
echo "ring, sync and ffi compile for macOS and FreeBSD"
