#!/usr/bin/env bash
# What walking through slots costs a busy-polling round trip, with no ring
# code (scripts/line-walk.c says how). Not part of CI: a measurement, run on
# a quiet machine. Usage: scripts/line-walk.sh [rounds] [cpu-a cpu-b]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -Wall -Wextra -o "$out/line-walk" "$here/line-walk.c" -lpthread
"$out/line-walk" "$@"
