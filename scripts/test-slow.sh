#!/usr/bin/env bash
# The slow tests (ctest label "slow", tests/slow/): end to end on a
# debootstrapped Debian 12 root. They need root and, on the first run, the
# network for debootstrap and apt (Debian's archive); the root is cached in
# $FERRY_SLOW_CACHE (default /var/tmp/ferry-slow). The normal suite lists
# them and skips them; CI runs the normal suite only.
#   scripts/test-slow.sh [BUILD_DIR]     default: build
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
[ -f "$build/CMakeCache.txt" ] || "$top/scripts/build.sh" "$build"
cd "$build"
FERRY_SLOW=1 ctest --output-on-failure -L slow
