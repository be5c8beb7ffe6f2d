#!/usr/bin/env bash
# Lines of the producer/consumer surface (issue #10's count), before the
# handle layer (commit 8da3099) and now, split into wrapper API and protocol
# core. Prints total lines and code lines (without blank lines and lines that
# are `//` comments or `///` / `//!` docs, doctests included).
#
# How the split is drawn:
# - 8da3099: in the four files `ring/src/{spsc,mpmc}/{producer,consumer}.rs`
#   the public handle types (`pub struct Producer<T>` ... to the end of the
#   file, with the docs above the first of them) are wrapper API, the
#   `ProducerCore` / `ConsumerCore` above them protocol core; the two chunk
#   files are wrapper API.
# - now: `ring/src/handle/` is wrapper API (`any.rs`, the one kind switch
#   that replaced cli's and ffi's, shown on its own line too); the four core
#   files are protocol core. The cores implement the seam themselves (`impl
#   Side for`, then `impl ProducerSide for` / `impl ConsumerSide for`, shown
#   on their own line: a core's steps, not delegation).
#   `ring/src/peer/wait.rs` holds the blocking waits the cores share (#11's
#   liveness-sliced wait, and the helpers the cores call instead of each
#   writing the wait out): protocol core, on a line of its own and in the
#   last total.
#
# Usage: scripts/handle-lines.sh [REV]   (REV: the "now" side; default the
# working tree)
set -euo pipefail
cd "$(dirname "$0")/.."

BEFORE=8da3099
NOW=${1:-}
CORES="ring/src/spsc/producer.rs ring/src/spsc/consumer.rs ring/src/mpmc/producer.rs ring/src/mpmc/consumer.rs"

# The text of PATH at the "now" side, or at REV $2.
text() {
    if [ -n "${2:-}" ]; then git show "$2:$1"; else cat "$1"; fi
}

# Prints the lines of stdin tagged WANT (W: wrapper, C: core): a block from
# the first line matching START (with the `///` / `#[` lines just above it)
# to the next line matching END (to the end of the file when END is empty)
# is W, every other line C.
part() {
    awk -v want="$1" -v start="$2" -v end="$3" '
        { l[NR] = $0; tag[NR] = "C" }
        END {
            for (i = 1; i <= NR; i++) {
                if (l[i] !~ start) continue
                for (j = i - 1; j > 0 && l[j] ~ /^[ \t]*(\/\/\/|#\[)/; j--) tag[j] = "W"
                for (k = i; k <= NR; k++) {
                    tag[k] = "W"
                    if (end != "" && k > i && l[k] ~ end) break
                }
                i = k
            }
            for (i = 1; i <= NR; i++) if (tag[i] == want) print l[i]
        }'
}

# "total code" of stdin.
count() {
    awk '{ t++ } !/^[ \t]*$/ && !/^[ \t]*\/\// { c++ } END { printf "%6d %6d\n", t, c }'
}

row() {
    printf "%-58s %s\n" "$1" "$(cat | count)"
}

OLD_START='^pub struct (Bytes)?(Producer|Consumer)[<{ ]'
SEAM_START='^impl (Side|ProducerSide|ConsumerSide) for '

printf "%-58s %6s %6s\n" "" "lines" "code"
echo "before ($BEFORE):"
{ for f in $CORES; do git show "$BEFORE:$f"; done; } | row "  four files (handles and cores)"
{ for f in $CORES; do git show "$BEFORE:$f" | part W "$OLD_START" ""; done
  git show "$BEFORE:ring/src/spsc/chunk.rs"; git show "$BEFORE:ring/src/mpmc/chunk.rs"; } | row "  wrapper API: four files' handles + two chunk files"
{ for f in $CORES; do git show "$BEFORE:$f" | part C "$OLD_START" ""; done; } | row "  protocol core: four files' cores"
{ for f in $CORES ring/src/spsc/chunk.rs ring/src/mpmc/chunk.rs; do git show "$BEFORE:$f"; done; } | row "  total: four files + two chunk files"

echo "now (${NOW:-working tree}):"
if [ -n "$NOW" ]; then
    handle_files=$(git ls-tree --name-only "$NOW" ring/src/handle/ | grep '\.rs$')
else
    handle_files=$(ls ring/src/handle/*.rs)
fi
{ for f in $handle_files; do text "$f" "$NOW"; done; } | row "  wrapper API: ring/src/handle/"
text ring/src/handle/any.rs "$NOW" | row "    of which any.rs (the kind switch of cli and ffi)"
{ for f in $CORES; do text "$f" "$NOW"; done; } | row "  protocol core: the four core files"
{ for f in $CORES; do text "$f" "$NOW" | part W "$SEAM_START" '^}'; done; } | row "    of which the seam impls"
{ for f in $handle_files $CORES; do text "$f" "$NOW"; done; } | row "  total: four files + handle/"
text ring/src/peer/wait.rs "$NOW" | row "  ring/src/peer/wait.rs (waits shared by the cores)"
{ for f in $handle_files $CORES ring/src/peer/wait.rs; do text "$f" "$NOW"; done; } | row "  total: four files + handle/ + peer/wait.rs"
