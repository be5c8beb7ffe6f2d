#!/usr/bin/env bash
# ffi/check.sh: checks ringway's C ABI end to end. Self-contained; exits
# non-zero on the first failure.
#
#  1. builds libringway.{a,so} and the Rust test peer; runs the ffi crate's
#     Rust tests, including the header drift check (c-include/ringway.h must
#     equal a fresh cbindgen generation);
#  2. writes ringway.pc (pkg-config) into the build directory;
#  3. compiles the header alone as C11, C99 and C++ (-fsyntax-only);
#  4. compiles the C tests with -std=c11 -Wall -Wextra -Wpedantic -Werror
#     under ASan + UBSan, linked against the static AND the shared library,
#     and runs them (API happy and error paths; record and broadcast rings,
#     durable files; C <-> Rust across processes, 10^6 messages each way; the
#     barrier mode chosen from C, refused when invalid or unavailable;
#     the scribbler: a forked child writes random bytes into the rings the
#     C calls work on, RINGWAY_C_SCRIBBLE_WRITES, default 10^5); links a C++
#     program against both;
#  5. builds the C example (examples/c) and runs producer and consumer;
#  6. compiles and runs the program and the compile/link line of the README
#     section "Using ringway from C" (README.md between <!-- c-link-line -->
#     markers);
#  7. checks that nothing was left in /dev/shm.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target), RINGWAY_PROFILE
# (debug or release; default debug, which keeps debug assertions on),
# CC, CXX, RINGWAY_XPROC_COUNT (default 1000000), RINGWAY_C_SCRIBBLE_WRITES
# (default 100000).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
export CARGO_TARGET_DIR="$target_dir"
profile="${RINGWAY_PROFILE:-debug}"
case "$profile" in
    debug) cargo_profile=() ;;
    release) cargo_profile=(--release) ;;
    *) echo "ffi/check.sh: RINGWAY_PROFILE must be debug or release" >&2; exit 2 ;;
esac
libdir="$target_dir/$profile"
CC="${CC:-cc}"
CXX="${CXX:-c++}"
count="${RINGWAY_XPROC_COUNT:-1000000}"
scribble_writes="${RINGWAY_C_SCRIBBLE_WRITES:-100000}"

# System libraries a Rust staticlib needs (rustc --print native-static-libs).
static_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl)
warn=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
threads=(-pthread)
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Names of rings made by this run carry this tag, so leftovers can be found.
tag="chk$$"
export RINGWAY_TEST_TAG="$tag"
work="$(mktemp -d "${TMPDIR:-/tmp}/ringway-ffi-check.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
    rm -f /dev/shm/ringway-*-"$tag"-* /tmp/ringway-ctest-"$tag"-*
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'ffi/check.sh: FAILED: %s\n' "$*" >&2; exit 1; }
run() { printf '    $ %s\n' "$*"; "$@"; }

step "build libringway.a, libringway.so and the Rust peer ($profile)"
run cargo build -p ringway-ffi --lib --example ringway_peer "${cargo_profile[@]}"
for f in libringway.a libringway.so examples/ringway_peer; do
    [ -f "$libdir/$f" ] || fail "$libdir/$f was not built"
done
peer="$libdir/examples/ringway_peer"

step "Rust tests of ringway-ffi, including the header drift check"
run cargo test -p ringway-ffi "${cargo_profile[@]}" --test header ||
    fail "c-include/ringway.h differs from a fresh cbindgen generation; run: RINGWAY_BLESS=1 cargo test -p ringway-ffi --test header"
run cargo test -p ringway-ffi "${cargo_profile[@]}" --lib

step "pkg-config file"
version="$(sed -n 's/^#define RINGWAY_VERSION "\(.*\)"$/\1/p' c-include/ringway.h)"
[ -n "$version" ] || fail "no RINGWAY_VERSION in c-include/ringway.h"
mkdir -p "$libdir/pkgconfig"
sed -e "s|@PREFIX@|$repo|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$repo/c-include|" \
    -e "s|@VERSION@|$version|" -e "s|@LIBS_PRIVATE@|${static_libs[*]}|" \
    ffi/ringway.pc.in >"$libdir/pkgconfig/ringway.pc"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
echo "    wrote $libdir/pkgconfig/ringway.pc"
[ "$(pkg-config --modversion ringway)" = "$version" ] || fail "pkg-config does not find ringway $version"
run pkg-config --cflags --libs ringway

step "header compiles alone as C11, C99 and C++"
run "$CC" "${warn[@]}" -fsyntax-only -x c c-include/ringway.h
run "$CC" -std=c99 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c c-include/ringway.h
run "$CXX" -std=c++11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ c-include/ringway.h

step "compile the C tests (ASan + UBSan) against the static and the shared library"
inc=(-Ic-include -Iffi/c-tests)
for t in test_api test_records test_cross_process test_scribbler test_barrier; do
    run "$CC" "${warn[@]}" "${san[@]}" "${threads[@]}" "${inc[@]}" "ffi/c-tests/$t.c" -o "$work/$t-static" \
        "$libdir/libringway.a" "${static_libs[@]}"
    run "$CC" "${warn[@]}" "${san[@]}" "${threads[@]}" "${inc[@]}" "ffi/c-tests/$t.c" -o "$work/$t-shared" \
        -L"$libdir" -lringway -Wl,-rpath,"$libdir"
done
run "$CXX" -std=c++11 -Wall -Wextra -Wpedantic -Werror "${san[@]}" -Ic-include \
    ffi/c-tests/test_cxx.cpp -o "$work/test_cxx-static" "$libdir/libringway.a" "${static_libs[@]}"
run "$CXX" -std=c++11 -Wall -Wextra -Wpedantic -Werror "${san[@]}" -Ic-include \
    ffi/c-tests/test_cxx.cpp -o "$work/test_cxx-shared" -L"$libdir" -lringway -Wl,-rpath,"$libdir"
if command -v readelf >/dev/null; then
    readelf -d "$work/test_api-shared" | grep -q 'NEEDED.*libringway' ||
        fail "test_api-shared does not load libringway.so"
    if readelf -d "$work/test_api-static" | grep -q 'NEEDED.*libringway'; then
        fail "test_api-static loads libringway.so"
    fi
    echo "    readelf: -shared binaries load libringway.so, -static ones do not"
fi

for link in static shared; do
    step "run the C tests ($link library, ASan + UBSan)"
    run "$work/test_api-$link"
    run "$work/test_records-$link"
    run "$work/test_cxx-$link"
    run "$work/test_cross_process-$link" "$peer" "$count"
    run "$work/test_scribbler-$link" "$scribble_writes"
    run "$work/test_barrier-$link"
done

step "build and run the C example (examples/c)"
for prog in producer consumer; do
    # shellcheck disable=SC2046 # pkg-config output is meant to split
    run "$CC" "${warn[@]}" "${san[@]}" -o "$work/$prog" "examples/c/$prog.c" \
        $(pkg-config --cflags --libs ringway) -Wl,-rpath,"$libdir"
done
example_ring="/ringway-example-$tag-0"
"$work/consumer" "$example_ring" 200000 &
pids+=("$!")
run "$work/producer" "$example_ring" 200000
wait "${pids[0]}" || fail "the example consumer failed"
pids=()

step "README \"Using ringway from C\": compile and run its program with its link line"
readme=README.md
block="$(awk '/<!-- c-link-line -->/ { n++; next } n == 1' "$readme")"
[ -n "$block" ] || fail "no <!-- c-link-line --> block in $readme"
printf '%s\n' "$block" | awk '/^```c$/ { on = 1; next } /^```/ { on = 0 } on' >"$work/app.c"
[ -s "$work/app.c" ] || fail "no \`\`\`c program in the c-link-line block of $readme"
mapfile -t lines < <(printf '%s\n' "$block" | sed -n 's/^\$\{0,1\} *\(cc .*\)$/\1/p')
[ "${#lines[@]}" -gt 0 ] || fail "no 'cc ...' line in the c-link-line block of $readme"
echo "    from $readme"
for line in "${lines[@]}"; do
    (cd "$work" && rm -f app && run sh -c "$line -Werror" && [ -x app ]) ||
        fail "the README line failed: $line"
    (cd "$work" && LD_LIBRARY_PATH="$libdir" run ./app) || fail "the README program failed"
done

step "nothing left in /dev/shm"
left="$(ls /dev/shm | grep -e "-$tag-" || true)"
[ -z "$left" ] || fail "rings left behind: $left"
echo "    none"

printf '\nffi/check.sh: all C ABI checks passed\n'
