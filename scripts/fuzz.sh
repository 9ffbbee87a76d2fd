#!/usr/bin/env bash
# Run a fuzzing campaign: build the libFuzzer targets with clang,
# AddressSanitizer and UBSan (once; then incrementally), and run each
# target in turn on a copy of its seed corpus.
#   scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]
# SECONDS-PER-TARGET defaults to 60; TARGET defaults to every
# tests/fuzz/fuzz_<target>.c. Environment:
#   FUZZ_RUNS=N          run N inputs per target instead of a time limit
#                        (with SECONDS-PER-TARGET given too: whichever
#                        comes first)
#   FERRY_FUZZ_BUILD=DIR the fuzzing build (default: build-fuzz/)
#   FERRY_FUZZ_OUT=DIR   where corpora, logs and crashes go (default: fuzz-out/)
# Per target it prints executions, exec/s, coverage (libFuzzer's cov: and
# ft:) and crashes. A crashing input is kept in OUT/crashes/TARGET/ (replay it
# with fuzz_replay_TARGET or the fuzzer itself) and the script exits 1. New
# inputs the campaign found are in OUT/corpus/TARGET/; the seed corpus in
# tests/fuzz/corpus/ is never written.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
time_given=${1:-}
[ $# -gt 0 ] && shift
build=${FERRY_FUZZ_BUILD:-$top/build-fuzz}
out=${FERRY_FUZZ_OUT:-$top/fuzz-out}

case $seconds in
'' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]" >&2; exit 64 ;;
esac
if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		targets+=("${f%.c}")
	done
fi

# The largest input worth trying: a little above what the parser accepts,
# or what its inputs are in practice.
max_len() {
	case $1 in
	bundle) echo 1048576 ;;
	www_authenticate) echo 4200 ;;
	mirror_request) echo 4096 ;;
	token_response | auth_json | gitmodules | trust_root | webhook | git_header) echo 16384 ;;
	*) echo 65536 ;;
	esac
}

echo "== building the fuzz targets in $build (clang, libFuzzer, ASan + UBSan)"
if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_WERROR=ON \
		-DFERRY_BUILD_FUZZERS=ON -DFERRY_SANITIZE=address,undefined >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=()
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz_$t
	corpus=$out/corpus/$t
	crashes=$out/crashes/$t
	log=$out/logs/$t.log
	mkdir -p "$corpus" "$crashes" "$out/logs"
	cp -n "$top/tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
	if [ -n "${FUZZ_RUNS:-}" ] && [ -n "$time_given" ]; then
		limit=(-runs="$FUZZ_RUNS" -max_total_time="$seconds")
	elif [ -n "${FUZZ_RUNS:-}" ]; then
		limit=(-runs="$FUZZ_RUNS")
	else
		limit=(-max_total_time="$seconds")
	fi
	echo "== $t (${limit[*]}, -max_len=$(max_len "$t"))"
	touch "$out/logs/.start"
	rc=0
	"$bin" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/" "${limit[@]}" \
		"$corpus" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ncrash=$(find "$crashes" -type f -newer "$out/logs/.start" | wc -l)
	line=$(printf '%-18s execs %-12s exec/s %-8s cov %-6s ft %-7s crashes %s' "$t" \
		"${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$ncrash")
	echo "$line"
	summary+=("$line")
	if [ "$rc" -ne 0 ] || [ "$ncrash" -gt 0 ]; then
		failed=1
		echo "   $t failed (exit $rc); inputs kept in $crashes; log: $log" >&2
		grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log" >&2 ||
			true
	fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
