#!/usr/bin/env bash
# Regenerates the ring seeds of the fuzz `open` target (fuzz/corpus/open/*-ring)
# with the current build, so they carry today's ABI version and layout hash:
# seeds of an older ABI are refused at the first check and the fuzzer never gets
# past it. ring/tests/fuzz_seeds.rs fails when the seeds are stale (after an ABI
# bump): run this script then.
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus/open
cargo build --release -q -p ringway-cli
ringway=target/release/ringway
for seed in spsc-ring mpmc-ring stamped-ring record-ring broadcast-ring; do
    rm -f "$out/$seed"
done
"$ringway" create --file "$out/spsc-ring" --kind spsc --capacity 2 --slot-size 8
"$ringway" create --file "$out/mpmc-ring" --kind mpmc --capacity 2 --slot-size 8
"$ringway" create --file "$out/stamped-ring" --kind spsc --stamped --capacity 2 --slot-size 8
"$ringway" create --file "$out/record-ring" --kind record --capacity 256
"$ringway" create --file "$out/broadcast-ring" --kind broadcast --capacity 256
chmod 644 "$out"/*-ring
