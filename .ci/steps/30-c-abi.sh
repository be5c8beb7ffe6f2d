#!/usr/bin/env bash
# The C ABI: libraries, header drift, C tests under ASan/UBSan against both
# libraries, C <-> Rust across processes, the C example, the README link line.
set -euo pipefail
if ! command -v pkg-config >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq pkg-config >/dev/null
fi
bash ffi/check.sh
