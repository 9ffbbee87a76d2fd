#!/usr/bin/env bash
# Inbox benchmark: what does ferry inbox add over a plain ferry import of
# the same bundles, and does its memory stay flat with a backlog?
#
# usage: bench/inbox.sh [SIZE_MIB] [WORKDIR]
#
#   SIZE_MIB  payload of the bundles imported (default 256): channel a gets
#             a full bundle of SIZE_MIB/2 in one file and an incremental one
#             of SIZE_MIB/4 split into 4 volumes; channel b a full bundle of
#             SIZE_MIB/4
#   WORKDIR   scratch directory (default: a new mktemp directory under
#             /var/tmp), removed at the end unless KEEP=1
#
# Environment: FERRY (the binary, default <tree>/build/cli/ferry),
# FORGE_BUNDLE (tests' forge-bundle, default next to the binary's build
# tree), RUNS (timed runs of each, best kept; default 3), KEEP=1.
#
# Measures:
#   1. ferry import --no-seed of the bundles into a fresh store (the
#      reference) and ferry inbox once --settle 0 over the same files in a
#      directory, with their .minisig files (checked) and without; each
#      reads a fresh copy of the files made the same way; wall time, best
#      of RUNS, each on a fresh copy of the store; the ratio.
#   2. Peak RSS of ferry inbox once over 10 and over 1,000 waiting bundle
#      files (incremental bundles each building on the one before, whose
#      first never arrives), each pass from scratch and then again with
#      everything staged.
# Goals (reported, not enforced): inbox overhead < 10 %; peak RSS with
# 1,000 files within 2 MiB of that with 10.
set -euo pipefail

OVERHEAD_GOAL=0.10
RSS_GOAL_KIB=2048

die() { echo "inbox bench: $*" >&2; exit 1; }
case ${1:-} in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;; esac
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MIB=${1:-256}
W=${2:-$(mktemp -d /var/tmp/ferry-inbox-bench.XXXXXX)}
RUNS=${RUNS:-3}
FERRY_BIN=${FERRY:-$SRC/build/cli/ferry}
FORGE=${FORGE_BUNDLE:-$(dirname "$(dirname "$FERRY_BIN")")/tests/forge-bundle}
[ -x "$FERRY_BIN" ] || die "no ferry at $FERRY_BIN (build it, or set FERRY)"
[ -x "$FORGE" ] || die "no forge-bundle at $FORGE (set FORGE_BUNDLE)"
[ -x /usr/bin/time ] || die "needs GNU time at /usr/bin/time"
mkdir -p "$W"
[ -z "$(ls -A "$W")" ] || die "$W is not empty"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
cp "$FERRY_BIN" "$W/ferry"
FERRY=$W/ferry
cd "$W"

echo "== setup: $SIZE_MIB MiB of bundles in $W"
"$FERRY" keygen -o k >/dev/null
export_ch() { # CHANNEL [OPTIONS]
	local ch=$1; shift
	printf 'channel: %s\nsources:\n  - file: files/%s\n    name: tools/%s\n    tag: v1\n' \
		"$ch" "$ch" "$ch" >"$ch.yaml"
	"$FERRY" export -q --spec "$ch.yaml" --key k.key --out out --state "$ch.db" \
		--cache cache "$@" >/dev/null
}
mkdir -p files/a files/b out
head -c $((SIZE_MIB / 2 * 1048576)) /dev/urandom >files/a/one.bin
export_ch a
head -c $((SIZE_MIB / 4 * 1048576)) /dev/urandom >files/a/two.bin
export_ch a --max-volume-size $((SIZE_MIB / 16 + 1))M
head -c $((SIZE_MIB / 4 * 1048576)) /dev/urandom >files/b/one.bin
export_ch b
"$FERRY" trust init --store s0 --key k.pub >/dev/null
ls out/*.tar | sed 's/^/   /'

# timed NAME CMD...: wall seconds of CMD into $W/t.NAME (appended)
timed() {
	local name=$1 t0 t1; shift
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>>"$W/log" || die "$name failed: $(tail -3 "$W/log")"
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l >>"t.$name"
}
best() { sort -g "t.$1" | head -1; }

echo "== 1. overhead over ferry import (best of $RUNS)"
for ((r = 1; r <= RUNS; r++)); do
	# Each command reads its own fresh copy of the bundles, made the same
	# way: files just written (then synced) cost more to read and replace
	# than files long on disk, and an inbox always reads files just landed.
	rm -rf s in; cp -a s0 s; mkdir in; cp out/*.tar in/; sleep 1.1; sync
	timed import "$FERRY" import -q --no-seed --store s in/*.tar
	rm -rf s in; cp -a s0 s; mkdir in; cp out/* in/; sleep 1.1; sync
	timed inbox "$FERRY" inbox once -q --no-seed --settle 0 --store s --dir in
	[ "$(ls in/done/*.tar | wc -l)" = "$(ls out/*.tar | wc -l)" ] || die "the inbox did not import everything"
	rm -rf s in; cp -a s0 s; mkdir in; cp out/*.tar in/; sleep 1.1; sync
	timed nosig "$FERRY" inbox once -q --no-seed --settle 0 --store s --dir in
done
imp=$(best import) inb=$(best inbox) nos=$(best nosig)
ratio=$(echo "$inb / $imp" | bc -l) ratio2=$(echo "$nos / $imp" | bc -l)
printf '   ferry import                      %8.3f s\n' "$imp"
printf '   ferry inbox once (with .minisig)  %8.3f s   ratio %.3f (overhead %+.1f %%)\n' \
	"$inb" "$ratio" "$(echo "($ratio - 1) * 100" | bc -l)"
printf '   ferry inbox once (no sidecars)    %8.3f s   ratio %.3f (overhead %+.1f %%)\n' \
	"$nos" "$ratio2" "$(echo "($ratio2 - 1) * 100" | bc -l)"
if [ "$(echo "$ratio2 - 1 < $OVERHEAD_GOAL" | bc -l)" = 1 ]; then
	echo "   GOAL MET: inbox overhead without sidecars < 10 %"
else
	echo "   GOAL MISSED: inbox overhead without sidecars >= 10 %"
fi

echo "== 2. peak RSS with a backlog of waiting bundles"
mkdir -p layout/blobs/sha256
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >layout/oci-layout
printf '%s' '{"schemaVersion":2,"manifests":[]}' >layout/index.json
echo backlog >layout/blobs/sha256/new
d=$(sha256sum layout/blobs/sha256/new | cut -d' ' -f1)
mv layout/blobs/sha256/new "layout/blobs/sha256/$d"
# Forged in a tmpfs when there is one: 1,000 fsynced writes are slow.
F=$(mktemp -d /dev/shm/ferry-inbox-bench.XXXXXX 2>/dev/null || mktemp -d "$W/forged.XXXXXX")
trap 'rm -rf "$F"; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
for ((q = 2; q <= 1001; q++)); do
	"$FORGE" k.key "$F" c "$q" layout "sha256:$d" >/dev/null || die "forge-bundle"
done
# rss N: peak RSS (KiB) of a first pass over N waiting files, then of a pass
# with all of them staged
rss() {
	local n=$1 first again files
	rm -rf s in; cp -a s0 s; mkdir in
	files=("$F"/*.tar)
	cp "${files[@]:0:n}" in/
	sleep 1.1
	/usr/bin/time -f %M -o rss.first "$FERRY" inbox once -q --no-seed --settle 0 --store s --dir in ||
		die "inbox once over $n files"
	/usr/bin/time -f %M -o rss.again "$FERRY" inbox once -q --no-seed --settle 0 --store s --dir in ||
		die "inbox once again over $n files"
	"$FERRY" inbox status --dir in --json | jq -e --argjson n "$n" '.waitingTotal == $n' >/dev/null ||
		die "expected $n bundles waiting"
	first=$(tail -1 rss.first) again=$(tail -1 rss.again)
	echo "$first $again"
}
read -r f10 a10 < <(rss 10)
read -r f1000 a1000 < <(rss 1000)
printf '   %5s files waiting: first pass %6d KiB, pass with all staged %6d KiB\n' 10 "$f10" "$a10" \
	1000 "$f1000" "$a1000"
delta=$((f1000 > a1000 ? f1000 - f10 : a1000 - a10))
if [ "$delta" -lt "$RSS_GOAL_KIB" ]; then
	echo "   GOAL MET: 1,000 waiting files cost $delta KiB more than 10 (< $RSS_GOAL_KIB KiB)"
else
	echo "   GOAL MISSED: 1,000 waiting files cost $delta KiB more than 10"
fi
