#!/usr/bin/env bash
# Bundle throughput benchmark: how fast does ferry export and verify a big
# single-volume bundle, compared with plain SHA-256 over the same file?
#
# usage: bench/bundle-throughput.sh [SIZE_MIB] [WORKDIR]
#        SIZE_MIB=256 bench/bundle-throughput.sh
#
#   SIZE_MIB  payload size of the test image (default 2048)
#   WORKDIR   scratch directory; must not exist or be empty (default: a new
#             mktemp directory under /var/tmp). It needs about 2 x SIZE_MIB
#             of free space and is removed at the end unless KEEP=1.
#
# Environment:
#   FERRY=PATH      the ferry binary (default <tree>/build/cli/ferry; build it
#                   with `cd build && make -j2`). It is copied into WORKDIR
#                   first, so a rebuild during the run does not mix binaries.
#   KEEP=1          keep WORKDIR (layout, keys, bundle, timing files)
#   BENCH_RSS=proc  measure peak RSS by polling /proc/PID/status (VmHWM)
#                   even when /usr/bin/time is installed
#   ROUNDS=3        measured rounds after the warm-up round
#
# Steps (the layout build is timed but is not a result):
#   1. oci-fixture.sh --big: an OCI layout with tag `big`, SIZE_MIB MiB of
#      incompressible layers
#   2. ferry keygen
#   3. ferry export      throughput = bundle bytes / wall time
#   4. ferry verify, ferry import (into a new store)
#   5. openssl dgst -sha256 over the bundle: the physical reference;
#      dd write + fsync of as many bytes, through the page cache and past
#      it (oflag=direct): the faster is the disk's reference
#   6. sha256sum over the bundle (once), for information
#   7. openssl dgst -blake2b512 over the bundle (for information: export
#      computes the minisign signature's BLAKE2b-512 over every byte, on
#      one core, and cannot run faster than that)
# Page caches cannot be dropped reliably without privileges. A warm-up
# round runs every command once, unreported; then ROUNDS (default 3) rounds
# run each command once, interleaved, and the median round of each is
# reported. Export's wall time includes its fsync of the bundle.
#
# Goals (reported as GOAL MET / GOAL MISSED; the exit status does not depend
# on them — it is non-zero only when a step fails):
#   export throughput >= 0.70 x dd write + fsync throughput (same run)
#   import throughput >= 0.80 x dd write + fsync throughput (same run)
#   (dd: the faster of a buffered and an O_DIRECT write)
#   verify throughput >= 0.70 x openssl dgst -sha256 throughput
#   peak RSS of each   < 64 MiB
# (export and import are also given as ratios to openssl, for information)
set -euo pipefail
shopt -s inherit_errexit

VERIFY_RATIO_GOAL=0.70
VERIFY_RSS_GOAL_MIB=64
EXPORT_DD_GOAL=0.70
IMPORT_DD_GOAL=0.80

# shellcheck source=lib/usage.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/usage.sh" bundle-throughput "$@"
[ $# -le 2 ] || die "usage: $0 [SIZE_MIB] [WORKDIR]"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MIB=${1:-${SIZE_MIB:-2048}}
ROUNDS=${ROUNDS:-3}
WORKDIR=${2:-${WORKDIR:-}}
FERRY_BIN=${FERRY:-$SRC/build/cli/ferry}
FIXTURE=$SRC/tests/lib/oci-fixture.sh

case $SIZE_MIB in
'' | *[!0-9]* | 0) die "SIZE_MIB must be a positive integer: '$SIZE_MIB'" ;;
esac
case $ROUNDS in
'' | *[!0-9]* | 0) die "ROUNDS must be a positive integer: '$ROUNDS'" ;;
esac
[ -x "$FERRY_BIN" ] ||
	die "no ferry binary at $FERRY_BIN (build it: cd $SRC/build && make -j2, or set FERRY=)"
[ -r "$FIXTURE" ] || die "missing $FIXTURE"
for tool in openssl sha256sum jq tar awk df; do
	command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

# ---- peak RSS: GNU time, or polling /proc ----------------------------------
if [ "${BENCH_RSS:-}" = proc ]; then
	RSS_METHOD=proc
elif command -v /usr/bin/time >/dev/null 2>&1 &&
	# not `| grep -q`: with pipefail, grep closing early can fail the test
	[[ $(/usr/bin/time -v true 2>&1) == *"Maximum resident set size"* ]]; then
	RSS_METHOD='time'
else
	RSS_METHOD=proc
	echo "note: GNU time not found at /usr/bin/time; peak RSS comes from polling" \
		"VmHWM in /proc/PID/status every 20 ms (may miss a short peak)." >&2
	echo "      For exact figures: apt-get install time" >&2
fi

# ---- work directory ---------------------------------------------------------
CREATED_WORK=0
if [ -z "$WORKDIR" ]; then
	mkdir -p /var/tmp
	WORKDIR=$(mktemp -d /var/tmp/ferry-bench.XXXXXX)
	CREATED_WORK=1
elif [ -e "$WORKDIR" ]; then
	[ -d "$WORKDIR" ] || die "$WORKDIR is not a directory"
	[ -z "$(ls -A "$WORKDIR")" ] || die "$WORKDIR is not empty"
else
	mkdir -p "$WORKDIR"
	CREATED_WORK=1
fi
WORKDIR=$(cd "$WORKDIR" && pwd)
W=$WORKDIR

cleanup() {
	local rc=$?
	if [ "${KEEP:-0}" = 1 ]; then
		echo "KEEP=1: work files left in $W" >&2
	elif [ "$CREATED_WORK" = 1 ]; then
		rm -rf "$W"
	else
		# A directory the caller made: empty it, leave it.
		find "$W" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Layout + bundle + some slack.
need_kib=$((SIZE_MIB * 1024 * 2 + 64 * 1024))
avail_kib=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge "$need_kib" ] ||
	die "$W has $((avail_kib / 1024)) MiB free, needs about $((need_kib / 1024)) MiB"

# Snapshot the binary (the tree is shared; a rebuild mid-run would mix builds).
cp "$FERRY_BIN" "$W/ferry"
FERRY=$W/ferry

# ---- helpers ----------------------------------------------------------------
# A file descriptor to `read -t` on: a sleep that does not fork.
exec {SLEEP_FD}<> <(:)

now() { echo "$EPOCHREALTIME"; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'; }

# measure NAME RUN CMD...: run CMD with stdout/stderr to files; record
# wall seconds, peak RSS (KiB), user+sys CPU seconds in $W/m/NAME.RUN.
# Aborts the benchmark (with CMD's stderr) if CMD fails.
measure() {
	local name=$1 run=$2 base t0 t1 rc=0 rss=0 cpu=na pid k v _
	shift 2
	base=$W/m/$name.$run
	mkdir -p "$W/m"
	if [ "$RSS_METHOD" = time ]; then
		t0=$(now)
		/usr/bin/time -v -o "$base.time" "$@" >"$base.out" 2>"$base.err" || rc=$?
		t1=$(now)
		if [ "$rc" -eq 0 ]; then
			rss=$(awk -F': *' '/Maximum resident set size/ { print $2 }' "$base.time")
			cpu=$(awk -F': *' '/User time \(seconds\)/ { u = $2 }
				/System time \(seconds\)/ { s = $2 }
				END { printf "%.2f", u + s }' "$base.time")
		fi
	else
		t0=$(now)
		"$@" >"$base.out" 2>"$base.err" &
		pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			if [ -r "/proc/$pid/status" ]; then
				while read -r k v _; do
					if [ "$k" = VmHWM: ] && [ "$v" -gt "$rss" ]; then
						rss=$v
					fi
				done 2>/dev/null <"/proc/$pid/status" || true
			fi
			read -r -t 0.02 -u "$SLEEP_FD" _ || true
		done
		wait "$pid" || rc=$?
		t1=$(now)
	fi
	if [ "$rc" -ne 0 ]; then
		echo "bundle-throughput: '$*' failed with exit status $rc:" >&2
		cat "$base.out" "$base.err" >&2
		exit 1
	fi
	echo "$(fsub "$t1" "$t0") $rss $cpu" >"$base.result"
}

# result NAME RUN FIELD: 1 wall seconds, 2 peak RSS KiB, 3 CPU seconds
result() { awk -v f="$3" '{ print $f }' "$W/m/$1.$2.result"; }
# median_run NAME: the round (1..ROUNDS) with NAME's median wall time
median_run() {
	local r
	for ((r = 1; r <= ROUNDS; r++)); do
		[ -f "$W/m/$1.$r.result" ] || continue
		echo "$(result "$1" "$r" 1) $r"
	done | sort -n | awk '{ l[NR] = $2 } END { print l[int((NR + 1) / 2)] }'
}

# Decimal megabytes per second.
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? b / 1e6 / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
kib2mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
flt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# ---- context ------------------------------------------------------------------
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
sha_ext=no
grep -qw sha_ni /proc/cpuinfo 2>/dev/null && sha_ext=yes
git_rev=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	git_rev="$git_rev (with uncommitted changes)"
fi
echo "== ferry bundle throughput benchmark"
echo "ferry:     $FERRY_BIN (built $(date -r "$FERRY_BIN" '+%F %T'), tree $git_rev)"
echo "host:      ${cpu_model:-unknown CPU}, $(nproc) CPUs, SHA extensions: $sha_ext," \
	"$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
echo "           $(uname -sr), $(openssl version | awk '{ print $1, $2 }')"
echo "workdir:   $W ($(df -PT "$W" | awk 'NR == 2 { print $2 }'))"
echo "payload:   $SIZE_MIB MiB; peak RSS via $([ "$RSS_METHOD" = time ] &&
	echo '/usr/bin/time -v' || echo 'polling /proc/PID/status VmHWM')"
echo

# ---- 1. layout (not a result) -----------------------------------------------
echo "building OCI layout ($SIZE_MIB MiB) ..."
t0=$(now)
mkdir -p "$W/tmp"
TMPDIR=$W/tmp bash "$FIXTURE" --big "$W/layout" "$SIZE_MIB" ||
	die "building the OCI layout failed"
t1=$(now)
layout_s=$(fsub "$t1" "$t0")
layout_bytes=$(du -sb "$W/layout" | awk '{ print $1 }')
echo "layout:    $layout_bytes bytes in $(printf '%.1f' "$layout_s") s (setup, not a result)"

# ---- 2. key and spec ----------------------------------------------------------
"$FERRY" keygen -o "$W/key" >/dev/null || die "ferry keygen failed"
cat >"$W/spec.yaml" <<EOF
channel: bench
sources:
  - oci-layout: $W/layout
    name: bench/big
EOF

# ---- 3. rounds of every measured command ----------------------------------------
# Round 0 warms the caches and is not a result; rounds 1..ROUNDS each run
# every command once, interleaved, so that a slow spell of the disk or the
# host hits ferry and the references alike. The median round is reported.
echo "running $ROUNDS rounds of every measured command after a warm-up round ..."
BUNDLE=
for ((run = 0; run <= ROUNDS; run++)); do
	rm -rf "$W/out" "$W/state.db"
	mkdir -p "$W/out"
	measure export "$run" "$FERRY" export --spec "$W/spec.yaml" --key "$W/key.key" \
		--out "$W/out" --state "$W/state.db" -q
	bundles=("$W"/out/ferry-*.tar)
	if [ "${#bundles[@]}" -ne 1 ] || [ ! -f "${bundles[0]}" ]; then
		die "expected one bundle file in $W/out, found: ${bundles[*]}"
	fi
	BUNDLE=${bundles[0]}
	bundle_bytes=$(stat -c %s "$BUNDLE")
	measure verify "$run" "$FERRY" verify --trust-key "$W/key.pub" -q "$BUNDLE"
	# import into a fresh store (trust root installed first, not timed)
	rm -rf "$W/store"
	"$FERRY" trust init --store "$W/store" --key "$W/key.pub" >/dev/null ||
		die "trust init failed"
	measure import "$run" "$FERRY" import --store "$W/store" -q "$BUNDLE"
	rm -rf "$W/store"
	measure openssl "$run" openssl dgst -sha256 "$BUNDLE"
	measure blake2b "$run" openssl dgst -blake2b512 "$BUNDLE"
	# the disk's sustained write speed: what import (which must persist
	# every byte) and export are bounded by once data no longer fits the
	# page cache
	rm -f "$W/ddtest"
	measure ddwrite "$run" dd if=/dev/zero of="$W/ddtest" bs=1M \
		count=$((bundle_bytes / 1048576)) conv=fsync status=none
	rm -f "$W/ddtest"
	# the same past the page cache: on a virtual machine, allocating fresh
	# cache pages can cost more than the disk (and ferry writes large files
	# this way); where the file system refuses O_DIRECT this step fails
	# quietly and only the buffered figure counts
	if dd if=/dev/zero of="$W/ddprobe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
		measure dddirect "$run" dd if=/dev/zero of="$W/ddtest" bs=1M \
			count=$((bundle_bytes / 1048576)) oflag=direct conv=fsync status=none
	fi
	rm -f "$W/ddtest" "$W/ddprobe"
done
# coreutils' sha256sum, once (it is slow: no SHA extensions), for information
measure sha256sum 1 sha256sum "$BUNDLE"

# Sanity: both reference tools computed the same digest (of the last
# round's bundle: each export writes another).
d_openssl=$(awk '{ print $NF }' "$W/m/openssl.$ROUNDS.out")
d_sha256sum=$(awk '{ print $1 }' "$W/m/sha256sum.1.out")
[ "$d_openssl" = "$d_sha256sum" ] ||
	die "openssl ($d_openssl) and sha256sum ($d_sha256sum) disagree"

# ---- report ---------------------------------------------------------------------
for name in export verify import openssl blake2b sha256sum ddwrite dddirect; do
	eval "M_$name=\$(median_run $name)"
done
# med NAME FIELD: FIELD of NAME's median round
med() { eval "result $1 \$M_$1 $2"; }
ref_s=$(med openssl 1)
ref_mbps=$(mbps "$bundle_bytes" "$ref_s")

echo
echo "bundle:    $(basename "$BUNDLE"), $bundle_bytes bytes" \
	"($(awk -v b="$bundle_bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB)"
echo "figures:   median of $ROUNDS interleaved rounds after a warm-up round; MB/s = 10^6 bundle bytes per second"
echo
printf '%-22s %9s %9s %10s %10s %12s %8s\n' \
	step "warm-up s" "median s" "MB/s" "x openssl" "peak RSS" "CPU s"
printf '%-22s %9s %9s %10s %10s %12s %8s\n' \
	---------------------- --------- --------- ---------- ---------- ------------ --------
for name in export verify import openssl blake2b sha256sum ddwrite dddirect; do
	[ -n "$(eval "echo \$M_$name")" ] || continue
	case $name in
	ddwrite) label="dd write + fsync" ;;
	dddirect) label="dd direct + fsync" ;;
	export) label="ferry export" ;;
	verify) label="ferry verify" ;;
	import) label="ferry import" ;;
	openssl) label="openssl dgst -sha256" ;;
	blake2b) label="openssl -blake2b512" ;;
	sha256sum) label="sha256sum (once)" ;;
	esac
	s=$(med "$name" 1)
	rss=$(med "$name" 2)
	cpu=$(med "$name" 3)
	warm=na
	[ ! -f "$W/m/$name.0.result" ] || warm=$(printf '%.3f' "$(result "$name" 0 1)")
	printf '%-22s %9s %9.3f %10s %10s %12s %8s\n' "$label" "$warm" "$s" \
		"$(mbps "$bundle_bytes" "$s")" "$(ratio "$(mbps "$bundle_bytes" "$s")" "$ref_mbps")" \
		"$(kib2mib "$rss") MiB" "$cpu"
done

export_mbps=$(mbps "$bundle_bytes" "$(med export 1)")
verify_mbps=$(mbps "$bundle_bytes" "$(med verify 1)")
verify_ratio=$(ratio "$verify_mbps" "$ref_mbps")
export_ratio=$(ratio "$export_mbps" "$ref_mbps")
verify_rss_mib=$(kib2mib "$(med verify 2)")
import_mbps=$(mbps "$bundle_bytes" "$(med import 1)")
import_ratio=$(ratio "$import_mbps" "$ref_mbps")
import_rss_mib=$(kib2mib "$(med import 2)")
export_rss_mib=$(kib2mib "$(med export 2)")

goal() { if "$@"; then echo "GOAL MET"; else echo "GOAL MISSED"; fi; }
# The disk's reference is the faster of the two ways dd writes.
dd_mbps=$(mbps "$bundle_bytes" "$(med ddwrite 1)")
dd_how="dd + fsync"
if [ -n "$M_dddirect" ]; then
	direct_mbps=$(mbps "$bundle_bytes" "$(med dddirect 1)")
	if fge "$direct_mbps" "$dd_mbps"; then
		dd_mbps=$direct_mbps
		dd_how="dd direct + fsync"
	fi
fi
export_dd=$(ratio "$export_mbps" "$dd_mbps")
import_dd=$(ratio "$import_mbps" "$dd_mbps")

echo
echo "ratios:"
printf '  %-36s %6sx   %s\n' "export throughput / $dd_how" "$export_dd" \
	"goal >= $EXPORT_DD_GOAL: $(goal fge "$export_dd" "$EXPORT_DD_GOAL")"
printf '  %-36s %6sx   %s\n' "import throughput / $dd_how" "$import_dd" \
	"goal >= $IMPORT_DD_GOAL: $(goal fge "$import_dd" "$IMPORT_DD_GOAL")"
printf '  %-36s %6sx   %s\n' "verify throughput / openssl" "$verify_ratio" \
	"goal >= $VERIFY_RATIO_GOAL: $(goal fge "$verify_ratio" "$VERIFY_RATIO_GOAL")"
printf '  %-36s %6sx   %s\n' "export throughput / openssl" "$export_ratio" "(for information)"
printf '  %-36s %6sx   %s\n' "import throughput / openssl" "$import_ratio" "(for information)"
blake_mbps=$(mbps "$bundle_bytes" "$(med blake2b 1)")
printf '  %-36s %6sx   %s\n' "export throughput / BLAKE2b" "$(ratio "$export_mbps" "$blake_mbps")" \
	"(for information: the minisign hash, one core, $blake_mbps MB/s)"
for step in export verify import; do
	eval "rss=\$${step}_rss_mib"
	printf '  %-36s %6s MiB %s\n' "$step peak RSS" "$rss" \
		"goal < $VERIFY_RSS_GOAL_MIB MiB: $(goal flt "$rss" "$VERIFY_RSS_GOAL_MIB")"
done
echo
echo "export: $export_mbps MB/s = ${export_dd}x $dd_how (goal >= $EXPORT_DD_GOAL)," \
	"${export_ratio}x openssl, peak RSS $export_rss_mib MiB (goal < $VERIFY_RSS_GOAL_MIB MiB)"
echo "import: $import_mbps MB/s = ${import_dd}x $dd_how (goal >= $IMPORT_DD_GOAL)," \
	"${import_ratio}x openssl, peak RSS $import_rss_mib MiB (goal < $VERIFY_RSS_GOAL_MIB MiB)"
echo "verify: $verify_mbps MB/s = ${verify_ratio}x openssl (goal >= $VERIFY_RATIO_GOAL)," \
	"peak RSS $verify_rss_mib MiB (goal < $VERIFY_RSS_GOAL_MIB MiB)"
echo "($dd_how: $dd_mbps MB/s, the disk's sustained write speed in this run: the faster of"
echo " dd through the page cache and dd past it, medians of the same rounds)"
