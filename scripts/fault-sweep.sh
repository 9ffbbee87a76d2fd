#!/usr/bin/env bash
# The full fault-injection sweep: tests/cli/t0007-fault-injection.sh with
# every call of every class failed in turn (FERRY_FAULT_RUNS=0) for export,
# import, fsck --repair-from and seed, on a normal (non-sanitizer) build.
# CI runs the same test with 12 calls per class and command.
#   scripts/fault-sweep.sh [BUILD_DIR]      (default: build)
# FERRY_FAULT_ONLY=import (or import:alloc, ...) narrows it. A run that
# fails its check is listed and the sweep goes on (FERRY_FAULT_KEEP_GOING=
# to stop at the first).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
[ -x "$build/cli/ferry" ] || { echo "no ferry in $build (scripts/build.sh $build)" >&2; exit 1; }
[ -f "$build/tests/faultshim.so" ] ||
	{ echo "no faultshim.so in $build: build without sanitizers" >&2; exit 1; }
mkdir -p "$build/tests/tmp"
FERRY=$build/cli/ferry FERRY_FAULTSHIM=$build/tests/faultshim.so FERRY_SOURCE_DIR=$top \
	FERRY_TEST_TMP=$build/tests/tmp FERRY_FAULT_RUNS=${FERRY_FAULT_RUNS:-0} \
	FERRY_FAULT_KEEP_GOING=${FERRY_FAULT_KEEP_GOING:-1} \
	exec bash "$top/tests/cli/t0007-fault-injection.sh"
