#!/usr/bin/env bash
# The browser tests (ctest label "browser"): the console driven by Debian's
# headless Chromium through chromedriver (tests/lib/webdriver.sh). The
# normal suite runs them too, once; this runs only them, RUNS times
# (default 1), and says where the screenshots of every page are.
#   scripts/test-browser.sh [BUILD_DIR]     default: build
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
[ -f "$build/CMakeCache.txt" ] || "$top/scripts/build.sh" "$build"
cmake --build "$build" -j "$(nproc)" >/dev/null
cd "$build"
ctest --output-on-failure -L browser --repeat until-fail:"${RUNS:-1}"
echo "screenshots: $build/test-artifacts/"
