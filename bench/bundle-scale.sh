#!/usr/bin/env bash
# Bundle scale benchmark: what does each image cost when a bundle carries
# many small ones, compared with unpacking and hashing the same bundle?
#
# usage: bench/bundle-scale.sh [N ...]        (default: 200 2000 20000)
#
# For each N it builds an OCI layout of N tiny images (each its own config,
# one 1-file tar layer and a manifest, tagged i0 .. iN-1; written directly
# by a short python script, no registry tools), then measures
#   ferry export    the layout into one bundle (export state kept per run)
#   ferry verify    the bundle
#   ferry import    the bundle into a fresh store (trust root set up untimed)
#   ferry store ls  the store it filled
#   floor           `tar x` of the bundle + `sha256sum` of every file it holds
#   incremental     one image changed: the export on top of the full bundle
#                   (its size) and its import into the store the full one filled
# Each measured command runs three times (import and the floor taking
# turns); the median wall time is reported,
# with the time per image, the ratio to the floor, and the peak RSS of the
# median run (/usr/bin/time -f %M).
#
# Goals (GOAL MET / GOAL MISSED; the exit status is non-zero only when a
# step fails): import <= 3 x the floor at every N; import's time per image at
# the largest N within 2 x that at the smallest; the peak RSS of every ferry
# command (export, verify, import, store ls, and the incremental export and
# import) < 64 MiB at every N; the incremental bundle that changes one image
# under 1 MB at every N.
#
# Environment:
#   FERRY=PATH   the ferry binary (default <tree>/build/cli/ferry); copied
#                into the work directory first
#   WORKDIR=DIR  scratch directory (default: mktemp -d under /var/tmp),
#                removed at the end unless KEEP=1
#   RUNS=3       runs per measured command
set -euo pipefail
shopt -s inherit_errexit

IMPORT_FLOOR_GOAL=3
IMPORT_SCALE_GOAL=2
RSS_GOAL_MIB=64
INCR_GOAL_BYTES=1000000

# shellcheck source=lib/usage.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/usage.sh" bundle-scale "$@"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FERRY_BIN=${FERRY:-$SRC/build/cli/ferry}
RUNS=${RUNS:-3}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(200 2000 20000)
for n in "${SIZES[@]}"; do
	case $n in
	'' | *[!0-9]* | 0) die "N must be a positive integer: '$n'" ;;
	esac
done
[ -x "$FERRY_BIN" ] || die "no ferry binary at $FERRY_BIN (set FERRY=)"
for tool in python3 tar sha256sum awk /usr/bin/time; do
	command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

mkdir -p /var/tmp
W=${WORKDIR:-$(mktemp -d /var/tmp/ferry-scale.XXXXXX)}
mkdir -p "$W"
[ -z "$(ls -A "$W")" ] || die "$W is not empty"
W=$(cd "$W" && pwd)
cleanup() {
	local rc=$?
	if [ "${KEEP:-0}" = 1 ]; then
		echo "KEEP=1: work files left in $W" >&2
	else
		rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$FERRY_BIN" "$W/ferry"
FERRY=$W/ferry
export HOME=$W/home TMPDIR=$W/tmp
mkdir -p "$HOME" "$TMPDIR" "$W/m"

now() { echo "$EPOCHREALTIME"; }

# measure NAME RUN CMD...: wall seconds and peak RSS (KiB) in $W/m/NAME.RUN
measure() {
	local name=$1 run=$2 t0 t1 rc=0
	shift 2
	t0=$(now)
	/usr/bin/time -f %M -o "$W/m/$name.$run.rss" "$@" >"$W/m/$name.$run.out" \
		2>"$W/m/$name.$run.err" || rc=$?
	t1=$(now)
	if [ "$rc" -ne 0 ]; then
		echo "bundle-scale: '$*' failed with exit status $rc:" >&2
		cat "$W/m/$name.$run.out" "$W/m/$name.$run.err" >&2
		exit 1
	fi
	echo "$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.6f", a - b }')" \
		"$(tail -n 1 "$W/m/$name.$run.rss")" >"$W/m/$name.$run.result"
}

# median NAME: "seconds rss_kib" of the run with the median wall time
median() {
	local r
	for ((r = 1; r <= RUNS; r++)); do cat "$W/m/$1.$r.result"; done |
		sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2) { print }'
}

# The layout: N images, each a distinct config, one tiny tar layer and a
# manifest, all tagged in index.json; images named after make_layout's
# N get other content.
make_layout() {
	python3 "$SRC/tests/lib/many-images.py" "$@"
}

echo "== ferry bundle scale benchmark"
echo "ferry:   $FERRY_BIN (built $(date -r "$FERRY_BIN" '+%F %T'))"
echo "host:    $(nproc) CPUs, $(uname -sr); workdir $W ($(df -PT "$W" | awk 'NR == 2 { print $2 }'))"
echo "figures: median of $RUNS runs; per image = wall time / N; x floor = wall / floor wall"
echo

"$FERRY" keygen -o "$W/key" >/dev/null || die "ferry keygen failed"
declare -A PER
for n in "${SIZES[@]}"; do
	L=$W/layout-$n
	t0=$(now)
	make_layout "$L" "$n" || die "building the layout of $n images failed"
	t1=$(now)
	printf 'N=%s: layout built in %.1f s (setup, not a result)\n' "$n" \
		"$(awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }')"
	cat >"$W/spec.yaml" <<EOF
channel: scale
sources:
  - oci-layout: $L
    name: bench/scale
EOF
	skip=0
	for ((r = 1; r <= RUNS; r++)); do
		rm -rf "$W/out" "$W/state.db"
		mkdir -p "$W/out"
		# A bundle has limits (bundle-format.md, section 12): an N that
		# exceeds one is reported, not run.
		if ! (measure export "$r" "$FERRY" export --spec "$W/spec.yaml" \
			--key "$W/key.key" --out "$W/out" --state "$W/state.db" -q) 2>"$W/m/export.fail"; then
			echo "N=$n: SKIPPED, export failed: $(tail -n 1 "$W/m/export.fail")"
			skip=1
			break
		fi
	done
	if [ "$skip" = 1 ]; then
		rm -rf "$L" "$W/out" "$W/state.db"
		echo
		continue
	fi
	bundles=("$W"/out/ferry-*.tar)
	[ "${#bundles[@]}" -eq 1 ] && [ -f "${bundles[0]}" ] ||
		die "expected one bundle in $W/out, found: ${bundles[*]}"
	B=${bundles[0]}
	for ((r = 1; r <= RUNS; r++)); do
		measure verify "$r" "$FERRY" verify --trust-key "$W/key.pub" -q "$B"
	done
	# Import and its floor take turns, so that a slow spell of the disk
	# (file creation on a virtual machine varies tenfold) falls on both.
	for ((r = 1; r <= RUNS; r++)); do
		rm -rf "$W/store"
		"$FERRY" trust init --store "$W/store" --key "$W/key.pub" >/dev/null ||
			die "trust init failed"
		measure import "$r" "$FERRY" import --store "$W/store" -q "$B"
		rm -rf "$W/x"
		mkdir -p "$W/x"
		measure floor "$r" sh -c 'cd "$1" && tar xf "$2" && find . -type f -print0 |
			xargs -0 sha256sum >/dev/null' floor "$W/x" "$B"
	done
	for ((r = 1; r <= RUNS; r++)); do
		measure ls "$r" "$FERRY" store ls --store "$W/store"
	done
	grep -q "i$((n - 1))" "$W/m/ls.1.out" || die "store ls does not list image i$((n - 1))"
	# One image changed: the incremental bundle on top of the full one, and
	# its import into the store the full one filled (each run from copies
	# of the export state and the store).
	rm -rf "$L"
	make_layout "$L" "$n" 0 || die "building the changed layout failed"
	for ((r = 1; r <= RUNS; r++)); do
		rm -rf "$W/out-i" "$W/state-i.db"
		mkdir -p "$W/out-i"
		cp "$W/state.db" "$W/state-i.db"
		measure incr "$r" "$FERRY" export --spec "$W/spec.yaml" --key "$W/key.key" \
			--out "$W/out-i" --state "$W/state-i.db" -q
	done
	I=$W/out-i/ferry-scale-000002.tar
	[ -f "$I" ] || die "no incremental bundle: $(ls "$W/out-i")"
	for ((r = 1; r <= RUNS; r++)); do
		rm -rf "$W/store-i"
		cp -a "$W/store" "$W/store-i"
		measure incr_import "$r" "$FERRY" import --store "$W/store-i" -q "$I"
	done
	PER[incr_size.$n]=$(stat -c %s "$I")
	rm -rf "$W/x" "$W/store" "$W/store-i" "$L" "$W/out" "$W/out-i" "$W/state.db" "$W/state-i.db"

	read -r floor_s _ <<<"$(median floor)"
	printf '%-16s %9s %12s %9s %10s\n' "N=$n" "wall s" "per image" "x floor" "peak RSS"
	for step in export verify import ls floor; do
		read -r s rss <<<"$(median "$step")"
		printf '%-16s %9.3f %9.1f us %9.2f %6.1f MiB\n' "$step" "$s" \
			"$(awk -v s="$s" -v n="$n" 'BEGIN { print s / n * 1e6 }')" \
			"$(awk -v s="$s" -v f="$floor_s" 'BEGIN { print (f > 0 ? s / f : 0) }')" \
			"$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
		PER[$step.$n]="$s $rss"
	done
	PER[floor.$n]="$floor_s"
	read -r s rss <<<"$(median incr)"
	read -r si rssi <<<"$(median incr_import)"
	PER[incr.$n]="$s $rss"
	PER[incr_import.$n]="$si $rssi"
	printf 'incremental, 1 of %s images changed: bundle %s bytes; export %.3f s %.1f MiB, import %.3f s %.1f MiB\n' \
		"$n" "${PER[incr_size.$n]}" "$s" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
		"$si" "$(awk -v k="$rssi" 'BEGIN { print k / 1024 }')"
	echo
done

goal() { if awk "BEGIN { exit !($1) }"; then echo "GOAL MET"; else echo "GOAL MISSED"; fi; }
ran=()
for n in "${SIZES[@]}"; do
	[ -z "${PER[import.$n]:-}" ] || ran+=("$n")
done
[ ${#ran[@]} -gt 0 ] || die "no N could be measured"
first=${ran[0]}
last=${ran[${#ran[@]}-1]}
echo "goals:"
for n in "${ran[@]}"; do
	read -r s rss <<<"${PER[import.$n]}"
	f=${PER[floor.$n]}
	printf '  N=%-7s import / floor %6.2fx (goal <= %s): %s; peak RSS %.1f MiB (goal < %s): %s\n' \
		"$n" "$(awk -v s="$s" -v f="$f" 'BEGIN { print s / f }')" "$IMPORT_FLOOR_GOAL" \
		"$(goal "$s / $f <= $IMPORT_FLOOR_GOAL")" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
		"$RSS_GOAL_MIB" "$(goal "$rss / 1024 < $RSS_GOAL_MIB")"
done
for n in "${ran[@]}"; do
	top=0 top_step=
	for step in export verify import ls incr incr_import; do
		read -r _ rss <<<"${PER[$step.$n]}"
		if [ "$rss" -gt "$top" ]; then
			top=$rss top_step=$step
		fi
	done
	case $top_step in
	incr) top_step="incremental export" ;;
	incr_import) top_step="incremental import" ;;
	ls) top_step="store ls" ;;
	esac
	printf '  N=%-7s largest peak RSS of any command: %s, %.1f MiB (goal < %s): %s\n' "$n" \
		"$top_step" "$(awk -v k="$top" 'BEGIN { print k / 1024 }')" "$RSS_GOAL_MIB" \
		"$(goal "$top / 1024 < $RSS_GOAL_MIB")"
done
for n in "${ran[@]}"; do
	printf '  N=%-7s incremental bundle changing 1 image: %s bytes (goal < %s): %s\n' "$n" \
		"${PER[incr_size.$n]}" "$INCR_GOAL_BYTES" "$(goal "${PER[incr_size.$n]} < $INCR_GOAL_BYTES")"
done
read -r s1 _ <<<"${PER[import.$first]}"
read -r s2 _ <<<"${PER[import.$last]}"
printf '  import per image at N=%s / at N=%s: %.2fx (goal <= %s): %s\n' "$last" "$first" \
	"$(awk -v a="$s2" -v b="$s1" -v n="$last" -v m="$first" 'BEGIN { print (a / n) / (b / m) }')" \
	"$IMPORT_SCALE_GOAL" "$(goal "($s2 / $last) / ($s1 / $first) <= $IMPORT_SCALE_GOAL")"
