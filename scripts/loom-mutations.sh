#!/usr/bin/env bash
# Mutation proof for the loom models: build the models once per mutation
# (one ordering weakened or one fence removed, selected by
# --cfg ringway_mutation="NAME"; see `ordering!` in ring/src/loom.rs and
# sync/src/event.rs) and check that loom reports each one. A mutation that
# the models do not catch is a hole in the models: the script then fails.
#
# Not a CI gate (each mutation is a full rebuild, about a minute here); run by
# hand after changing a protocol:  bash scripts/loom-mutations.sh [NAME...]
set -uo pipefail
cd "$(dirname "$0")/.."

# mutation  test-binaries-that-must-fail
MUTATIONS=(
    "spsc_publish_relaxed        spsc"
    "spsc_read_tail_relaxed      spsc"
    "spsc_release_relaxed        spsc"
    "spsc_read_head_relaxed      spsc"
    "notify_without_fence        blocking"
    "park_without_fence          blocking"
    "sleep_without_flag          blocking"
    "notify_without_fence        readiness"
    "park_without_fence          readiness"
    "sleep_without_flag          readiness"
    "spsc_publish_relaxed        readiness"
)
for model in loom-tests/tests/mpmc.rs loom-tests/tests/record.rs loom-tests/tests/broadcast.rs loom-tests/tests/stamped.rs loom-tests/tests/peer.rs; do
    [ -f "$model" ] || continue
    while read -r line; do
        [ -n "$line" ] && MUTATIONS+=("$line")
    done < <(sed -n 's/^\/\/ mutation: //p' "$model")
done

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom-mutation"
results=()
failed=0
for entry in "${MUTATIONS[@]}"; do
    read -r name tests <<<"$entry"
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
        continue
    fi
    args=()
    for t in $tests; do args+=(--test "$t"); done
    echo "== mutation $name (models: $tests)"
    start=$(date +%s)
    log=$(mktemp)
    RUSTFLAGS="--cfg loom --cfg ringway_mutation=\"$name\"" \
        timeout 900 cargo test -q -p ringway-loom-tests --release "${args[@]}" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        verdict="NOT CAUGHT"
        failed=1
        tail -20 "$log"
    elif grep -qE "Causality violation|deadlock|assertion|panicked" "$log"; then
        why=$(grep -oE "Causality violation[^.]*|deadlock|assertion[^\`]*|Corrupt\(CorruptError \{ what: \"[^\"]*\"" "$log" \
            | sed 's/^Corrupt(CorruptError { what: "\(.*\)"$/Corrupt: \1/' | head -1)
        verdict="caught ($why)"
    else
        verdict="BUILD OR RUN ERROR"
        failed=1
        tail -20 "$log"
    fi
    rm -f "$log"
    results+=("$(printf '%-28s %-10s %4ss  %s' "$name" "$tests" "$secs" "$verdict")")
done
echo
printf '%-28s %-10s %5s  %s\n' mutation models time result
printf '%s\n' "${results[@]}"
exit $failed
