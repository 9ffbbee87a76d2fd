# Shared helpers for command tests (tests/cli/t*.sh), sourced first:
#   . "$(dirname "$0")/../lib/test-lib.sh"
# Provides: $FERRY (the binary), $SRC (source tree), $T (a fresh scratch
# directory removed on exit), and small assertion helpers that print what
# failed and exit 1. Exit 77 means "skipped" to ctest.
set -euo pipefail

SRC=${FERRY_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FERRY=${FERRY:-$SRC/build/cli/ferry}
[ -x "$FERRY" ] || { echo "ferry binary not found at $FERRY" >&2; exit 1; }
TEST_NAME=$(basename "$0" .sh)
mkdir -p "${FERRY_TEST_TMP:-/tmp}"
T=$(mktemp -d "${FERRY_TEST_TMP:-/tmp}/$TEST_NAME.XXXXXX")
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
_cleanups=()
on_exit() { local c; for c in "${_cleanups[@]}"; do eval "$c" || true; done; [ -n "${FERRY_KEEP_TMP:-}" ] || rm -rf "$T"; }
trap on_exit EXIT
# Run a command when the test exits (registries, servers, ...).
at_exit() { _cleanups+=("$1"); }

_pass=0
fail() { echo "FAIL: $TEST_NAME: $*" >&2; exit 1; }
ok() { _pass=$((_pass + 1)); echo "ok $_pass - $*"; }
skip_all() { echo "SKIP: $TEST_NAME: $*"; exit 77; }
need() { local c; for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip_all "needs $c"; done; }

# expect_exit CODE CMD... : run CMD, require exit status CODE; output in $T/out, $T/err
expect_exit() {
	local want=$1 got=0; shift
	"$@" >"$T/out" 2>"$T/err" || got=$?
	[ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $got, expected $want"; }
}
# expect_err TEXT : the last expect_exit's stderr contains TEXT
expect_err() { grep -qF -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks '$1'"; }; }
expect_out() { grep -qF -- "$1" "$T/out" || { cat "$T/out" >&2; fail "stdout lacks '$1'"; }; }

# faketime_run SPEC CMD...: run CMD with its clock moved by SPEC (`faketime
# -f` syntax, e.g. '+8d'), for at most $FAKETIME_STEP_TIMEOUT seconds.
# Under a sanitizer the step needs two ASAN_OPTIONS, added to the caller's:
# - allocator_release_to_os_interval_ms=-1. libfaketime 0.9.10 (Debian 12)
#   sets itself up on its first clock_gettime() or in its constructor, and
#   that set-up calls dlsym(), which allocates. The ASan allocator reads the
#   monotonic clock when it first maps a size class, to time releasing memory
#   to the OS, and does so holding that class's lock; the read reaches
#   libfaketime's clock_gettime(), not yet set up, which starts the set-up
#   again ("libfaketime: Unexpected recursive calls to clock_gettime()"),
#   allocates again and waits for that lock forever. Without the release
#   timer the allocator never reads the clock. (Fixed in libfaketime after
#   0.9.10; its own switches such as FAKETIME_DONT_FAKE_MONOTONIC do not help,
#   as the set-up runs whatever the clock asked for.)
# - verify_asan_link_order=0. faketime appends libfaketime to LD_PRELOAD, so
#   it loads before a gcc build's libasan.so, which otherwise refuses to run.
# Both are ignored by binaries without ASan. The bound turns any other clash
# between libfaketime and a runtime into a named failure instead of a hang.
FAKETIME_STEP_TIMEOUT=${FAKETIME_STEP_TIMEOUT:-120}
faketime_run() {
	local spec=$1 rc=0; shift
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_release_to_os_interval_ms=-1:verify_asan_link_order=0 \
		timeout -k 10 "$FAKETIME_STEP_TIMEOUT" faketime -f "$spec" "$@" || rc=$?
	[ "$rc" != 124 ] && [ "$rc" != 137 ] ||
		echo "faketime $spec $*: no result after ${FAKETIME_STEP_TIMEOUT}s (killed)" >&2
	return "$rc"
}
# flip_byte FILE OFFSET: invert the byte at OFFSET in place.
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[ -n "$b" ] || fail "no byte at offset $2 of $1"
	printf "\\$(printf %03o $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}
# data_offset TAR MEMBER: where MEMBER's data starts (plain ustar header).
data_offset() {
	local blk
	blk=$(tar -R -tf "$1" | sed -n "s|^block \([0-9]*\): $2\$|\1|p")
	[ -n "$blk" ] || fail "member $2 not found in $1"
	[ "$(dd if="$1" bs=512 skip="$blk" count=1 status=none | head -c "${#2}")" = "$2" ] ||
		fail "member $2 of $1 has no plain ustar header"
	echo $(((blk + 1) * 512))
}
# export_file_channel CHANNEL OUTDIR [EXPORT OPTIONS...]: export the files
# under $T/files/CHANNEL as the file artifact tools/CHANNEL:v1 on channel
# CHANNEL into OUTDIR (relative to $T), signed by $T/k.key, with the
# channel's state in $T/CHANNEL.db (so each call is the next sequence).
export_file_channel() {
	local ch=$1 out=$2; shift 2
	printf 'channel: %s\nsources:\n  - file: files/%s\n    name: tools/%s\n    tag: v1\n' \
		"$ch" "$ch" "$ch" >"$T/$ch.yaml"
	"$FERRY" export -q --spec "$T/$ch.yaml" --key "$T/k.key" --out "$T/$out" \
		--state "$T/$ch.db" --cache "$T/cache" "$@" >/dev/null || fail "export of $ch"
}
# file_channels_abc C_SIZE [EXPORT OPTIONS FOR c...]: three channels of
# file bundles in $T/out-a, out-b, out-c (signed by a new $T/k): a with
# three sequences, the second split into 128 KiB volumes; b with an
# incremental then a full bundle; c with one bundle of C_SIZE random bytes.
file_channels_abc() {
	local csize=$1; shift
	mkdir -p "$T/files/a" "$T/files/b" "$T/files/c" "$T/out-a" "$T/out-b" "$T/out-c"
	"$FERRY" keygen -o "$T/k" >/dev/null
	head -c 1000 /dev/urandom >"$T/files/a/one.bin"
	export_file_channel a out-a
	head -c 400000 /dev/urandom >"$T/files/a/two.bin"
	export_file_channel a out-a --max-volume-size 128K
	head -c 1000 /dev/urandom >"$T/files/a/three.bin"
	export_file_channel a out-a
	head -c 1000 /dev/urandom >"$T/files/b/one.bin"
	export_file_channel b out-b
	head -c 1000 /dev/urandom >"$T/files/b/two.bin"
	export_file_channel b out-b --full
	head -c "$csize" /dev/urandom >"$T/files/c/one.bin"
	export_file_channel c out-c "$@"
}
