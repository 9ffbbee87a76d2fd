#!/usr/bin/env bash
# Configure and build into DIR (default: build/) with extra CMake options.
#   scripts/build.sh [DIR] [-DOPTION=VALUE ...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
