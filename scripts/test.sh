#!/usr/bin/env bash
# Run every test: install dependencies, build with -Werror and run the
# whole suite (unit tests and command tests against real components), then
# build again with AddressSanitizer + UBSan and run the suite once more.
#   scripts/test.sh            everything
#   FERRY_SKIP_ASAN=1 scripts/test.sh   only the normal build
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-deps.sh

echo "== build (gcc, -Werror)"
scripts/build.sh build
echo "== public headers compile alone (-pedantic)"
for h in include/ferry/*.h; do
	echo "#include \"ferry/$(basename "$h")\"" |
		gcc -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -x c -c -o /dev/null -
done
echo "== test suite"
(cd build && ctest --output-on-failure -j 2)

if [ -z "${FERRY_SKIP_ASAN:-}" ]; then
	echo "== build (clang, AddressSanitizer + UBSan, -Werror)"
	CC=clang scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug \
		-DFERRY_SANITIZE=address,undefined
	echo "== test suite under AddressSanitizer + UBSan"
	(cd build-asan &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j 2)
fi
echo "== all tests passed"
