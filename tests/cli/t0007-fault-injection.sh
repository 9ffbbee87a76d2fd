#!/usr/bin/env bash
# Fault injection into the writers: export (to an outbox), import, fsck
# --repair-from, inbox once and seed (to a real docker-registry) run under
# tests/tools/faultshim.c, which fails the Nth call of a class: allocation
# from ferry's code (ENOMEM), writes to files (ENOSPC, from then on), syncs
# (EIO), creating/renaming/removing files (ENOSPC, from then on), reads of
# files (EIO), and short writes (half written, which must change nothing).
# A run with N = 0 counts the calls C of the class; then N takes
# FERRY_FAULT_RUNS values spread over 1..C (0: every one of them, the full
# sweep of scripts/fault-sweep.sh). After each run:
#   - ferry exited (no signal, no hang) and, when it failed, said why on
#     stderr;
#   - export: the outbox holds nothing new or bundle 2 whole (it verifies);
#     the next clean run (--if-changed) leaves exactly bundle 2 there;
#   - import: the store is the old one or the new one (ferry.db's rows, the
#     layout view, the repositories' refs) and fsck finds it clean, or,
#     failed after its commit, ferry.db is the new one and the message says
#     what lags; importing again gives the new one;
#   - seed: every tag on the registry names a complete tree; seeding again
#     succeeds and leaves every tag there;
#   - fsck --repair-from: the store is as damaged as before or repaired
#     (fsck clean); repairing again gives the reference store;
#   - inbox once: the bundle's files are never rejected or lost, the store
#     is the old one or the new one, and the next clean pass imports it.
# A short write must give the same outcome as no fault at all.
# The figures (calls, distinct call sites, runs, outcomes) are printed.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/seed.sh"
. "$SRC/tests/lib/store-state.sh"
need jq sqlite3 sha256sum git docker-registry curl umoci
SHIM=${FERRY_FAULTSHIM:-}
[ -n "$SHIM" ] && [ -f "$SHIM" ] || skip_all "the fault shim is built only without sanitizers"
RUNS=${FERRY_FAULT_RUNS:-12}         # per command and fault kind; 0 = every call
SEED=${FERRY_FAULT_SEED:-0}          # moves the sampled calls
ONLY=${FERRY_FAULT_ONLY:-}           # e.g. "import" or "import:alloc"
KEEP_GOING=${FERRY_FAULT_KEEP_GOING:-} # 1: note failures, go on, fail at the end
# Hundreds of runs: one copy of the binary, named ferry (the shim acts in
# programs of that name only).
mkdir -p "$T/bin"
cp "$FERRY" "$T/bin/ferry"
FERRY=$T/bin/ferry

# ---- fixture ------------------------------------------------------------------------
make_oci_layout "$T/layout" 64
mkdir -p "$T/files" "$T/b1" "$T/b2"
head -c 20000 /dev/urandom >"$T/files/one.bin"
git init -q -b main "$T/repo"
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -q --allow-empty -m one
printf 'a: 1\n' >"$T/repo/app.yaml"
git -C "$T/repo" add app.yaml
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -q -m two
"$FERRY" keygen -o "$T/k" >/dev/null
cat >"$T/spec.yaml" <<EOF
channel: f
sources:
  - oci-layout: $T/layout
    name: library/app
  - file: $T/files
    name: tools/files
    tag: v1
  - git: $T/repo
    name: platform/deploy
EOF
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/b1" \
	--state "$T/state.db" --cache "$T/cache"
B1=$T/b1/ferry-f-000001.tar
# over 1 MiB: bundle 2's import reads it in place and stages it on the
# reader's worker, under the same faults
head -c 1300000 /dev/urandom >"$T/files/two.bin"
printf 'a: 2\n' >"$T/repo/app.yaml"
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -q -am three
cp -a "$T/state.db" "$T/state1.db"
cp -a "$T/cache" "$T/cache1"
# export_run DIR [ENV...]: bundle 2 into DIR/out from copies of the state
export_prepare() {
	rm -rf "$1"
	mkdir -p "$1/out"
	cp -a "$T/state1.db" "$1/state.db"
	cp -a "$T/cache1" "$1/cache"
}
export_cmd() {
	"${RUN[@]}" "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --outbox "$1/out" \
		--state "$1/state.db" --cache "$1/cache" "${@:2}"
}
export_prepare "$T/xref"
expect_exit 0 export_cmd "$T/xref"
B2=$T/xref/out/ferry-f-000002.tar
[ -f "$B2" ] || fail "the reference export wrote: $(ls "$T/xref/out")"
expect_exit 0 "$FERRY" verify --trust-key "$T/k.pub" "$B2"

PRE=$T/pre REF=$T/ref
expect_exit 0 "$FERRY" trust init --store "$PRE" --key "$T/k.pub"
expect_exit 0 "$FERRY" import -q --no-seed --store "$PRE" "$B1"
cp -a "$PRE" "$REF"
expect_exit 0 "$FERRY" import -q --no-seed --store "$REF" "$B2"
ok "fixture: bundle 1 (image, files, git) and incremental bundle 2; stores at sequence 1 and 2"

# ---- the state of a store ------------------------------------------------------------
# What readers see: ferry.db's rows (no audit, no import time), the OCI
# layout view (index.json) and each repository's refs and HEAD. Blobs and
# git objects a failed run published but never recorded are garbage for gc
# and no reader sees them; fsck checks that what is recorded is there.
db_state() { store_db_state "$1"; }
derived_state() {
	local r
	echo "== view"
	sha256sum <"$1/index.json"
	for r in $(cd "$1/git" && find . -name '*.git' -prune | LC_ALL=C sort); do
		echo "== repository $r"
		git -C "$1/git/$r" for-each-ref --format='%(objectname) %(refname)'
		git -C "$1/git/$r" symbolic-ref HEAD
	done
}
store_state() { db_state "$1"; derived_state "$1"; }
store_state "$PRE" >"$T/pre.state"
store_state "$REF" >"$T/ref.state"
db_state "$REF" >"$T/ref.db"
cmp -s "$T/pre.state" "$T/ref.state" && fail "the two stores do not differ"

# ---- the sweep --------------------------------------------------------------------
KINDS=(alloc:enomem write:enospc+ sync:eio meta:enospc+ read:eio write:short)
SUMMARY=$T/summary
: >"$SUMMARY"
: >"$T/sites.all"
# The commands below run ferry as "${RUN[@]}" "$FERRY" ...: plainly, or
# under the shim and a time limit.
RUN=()
# faulty CLASS:N:MODE CMD...: run CMD under the shim; sets RC; the report
# in $T/report, stderr in $T/ferr
faulty() {
	local spec=$1
	shift
	rm -f "$T/report"
	RC=0
	RUN=(timeout -k 5 120 env "FERRY_FAULT=$spec" "FERRY_FAULT_REPORT=$T/report" "LD_PRELOAD=$SHIM")
	"$@" >"$T/fout" 2>"$T/ferr" || RC=$?
	RUN=()
}
fired() { grep -q '^fired 1' "$T/report" 2>/dev/null; }
count_of() { sed -n 's/^calls //p' "$T/report"; }
sites_of() { sed -n 's/^sites //p' "$T/report"; }
# check_exit WHAT: ferry ended by itself, and with a message when it failed
check_exit() {
	case $RC in
	0 | 1 | 2 | 3) ;;
	124 | 137) fail "$1: no result after 120 s (hung)" ;;
	*) cat "$T/ferr" >&2; fail "$1: exited $RC (a signal?)" ;;
	esac
	# (fsck reports what it found on standard output)
	if [ "$RC" != 0 ] && [ "$RC" != 3 ]; then
		[ -s "$T/ferr" ] || [ -s "$T/fout" ] || fail "$1: failed (exit $RC) without a message"
		[ ! -s "$T/ferr" ] || grep -q 'ferry' "$T/ferr" ||
			{ cat "$T/ferr" >&2; fail "$1: the message does not say which command"; }
	fi
	if grep -qi 'sanitizer\|segmentation\|core dumped\|double free\|assert' "$T/ferr"; then
		cat "$T/ferr" >&2
		fail "$1: crashed"
	fi
}
# points C: the values of N for a class counted C times
points() {
	local c=$1 i
	if [ "$c" -le 0 ]; then return; fi
	if [ "$RUNS" = 0 ] || [ "$c" -le "$RUNS" ]; then seq 1 "$c"; return; fi
	for i in $(seq 0 $((RUNS - 1))); do
		echo $(((i * (c - 1) / (RUNS - 1) + SEED * 7919) % c + 1))
	done | sort -nu
}
wanted() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ] || [ "$ONLY" = "$1:${2%%:*}" ]; }

# sweep NAME PREPARE RUN CHECK: for each fault kind, count then sweep.
# PREPARE DIR sets up a fresh run; RUN DIR is the command; CHECK DIR KIND
# judges the outcome (RC, $T/ferr and the files are there).
sweep() {
	local name=$1 prepare=$2 run=$3 check=$4 kind cls mode c s n nf ns nu
	for kind in "${KINDS[@]}"; do
		wanted "$name" "$kind" || continue
		cls=${kind%%:*} mode=${kind#*:}
		"$prepare" "$T/x"
		faulty "$cls:0:$mode" "$run" "$T/x"
		[ "$RC" = 0 ] || { cat "$T/ferr" >&2; fail "$name: a counting run ($cls) failed"; }
		c=$(count_of) s=$(sites_of)
		nf=0 ns=0 nu=0
		for n in $(points "$c"); do
			"$prepare" "$T/x"
			faulty "$cls:$n:$mode" "$run" "$T/x"
			if ! fired; then
				nu=$((nu + 1))
			elif [ "$RC" = 0 ] || [ "$RC" = 3 ]; then
				ns=$((ns + 1))
				grep '^fault ' "$T/report" | sed "s/^/$name succeeded: /" >>"$T/succeeded"
			else
				nf=$((nf + 1))
			fi
			grep '^fault ' "$T/report" 2>/dev/null | awk -v w="$name" '{print w, $3, $4, $5}' \
				>>"$T/sites.all" || true
			# judged in a subshell, so that a full sweep can go on
			if ! (
				check_exit "$name $cls:$n:$mode"
				[ "$mode" != short ] || [ "$RC" = 0 ] || [ "$RC" = 3 ] || ! fired || {
					cat "$T/ferr" >&2
					fail "$name $cls:$n:short: a short write made the command fail"
				}
				"$check" "$T/x" "$name $cls:$n:$mode"
			); then
				[ -n "$KEEP_GOING" ] || exit 1
				echo "$name $cls:$n:$mode $(grep '^fault ' "$T/report" | cut -d' ' -f4-)" \
					>>"$T/failures"
			fi
		done
		printf '%-7s %-13s calls %6s  sites %4s  runs %4s  failed-cleanly %4s  succeeded %4s  not-reached %3s\n' \
			"$name" "$kind" "$c" "$s" $((nf + ns + nu)) "$nf" "$ns" "$nu" | tee -a "$SUMMARY"
	done
}

# ---- export ---------------------------------------------------------------------------
export_check() {
	local d=$1 what=$2 f
	for f in "$d"/out/*; do
		[ -e "$f" ] || continue
		case ${f##*/} in
		ferry-f-000002.tar | ferry-f-000002.tar.minisig) ;;
		*) fail "$what: the outbox holds $f" ;;
		esac
	done
	if [ -e "$d/out/ferry-f-000002.tar.minisig" ]; then
		"$FERRY" verify -q --trust-key "$T/k.pub" "$d/out/ferry-f-000002.tar" >/dev/null 2>&1 ||
			fail "$what: the outbox holds a bundle 2 that does not verify"
	fi
	[ "$RC" != 0 ] || [ -e "$d/out/ferry-f-000002.tar.minisig" ] ||
		fail "$what: exit 0 without a bundle in the outbox"
	RC=0
	export_cmd "$d" --if-changed >"$T/fout" 2>"$T/ferr" || RC=$?
	[ "$RC" = 0 ] || [ "$RC" = 3 ] || { cat "$T/ferr" >&2; fail "$what: the next export failed ($RC)"; }
	[ "$(cd "$d/out" && ls)" = "$(printf 'ferry-f-000002.tar\nferry-f-000002.tar.minisig')" ] ||
		fail "$what: after the next export the outbox holds: $(ls "$d/out")"
	"$FERRY" verify -q --trust-key "$T/k.pub" "$d/out/ferry-f-000002.tar" >/dev/null 2>&1 ||
		fail "$what: after the next export bundle 2 does not verify"
}
sweep export export_prepare export_cmd export_check
ok "export: every fault leaves the outbox without bundle 2 or with all of it, and the next run completes it"

# ---- import ---------------------------------------------------------------------------
import_prepare() { rm -rf "$1"; cp -a "$PRE" "$1"; }
import_cmd() { "${RUN[@]}" "$FERRY" import -q --no-seed --store "$1" "$B2"; }
# The import's one decision is ferry.db's commit. After it, a failure to
# move the refs or rewrite the view (derived from ferry.db) is reported as
# such, and the next import finishes the job.
import_check() {
	local d=$1 what=$2
	store_state "$d" >"$T/now.state"
	if cmp -s "$T/now.state" "$T/pre.state" || cmp -s "$T/now.state" "$T/ref.state"; then
		"$FERRY" store fsck --store "$d" >"$T/fsck.out" 2>&1 ||
			{ cat "$T/fsck.out" >&2; fail "$what: fsck finds faults"; }
	elif db_state "$d" | cmp -s - "$T/ref.db"; then
		[ "$RC" != 0 ] || fail "$what: exit 0 with refs or view behind ferry.db"
		grep -q "is imported, but\|layout view" "$T/ferr" ||
			{ cat "$T/ferr" >&2; fail "$what: refs or view behind ferry.db, and the message does not say so"; }
		echo "$what" >>"$T/lagged"
	else
		diff "$T/pre.state" "$T/now.state" >&2 || true
		fail "$what: the store is neither the old one nor the new one"
	fi
	[ "$RC" != 0 ] || cmp -s "$T/now.state" "$T/ref.state" || fail "$what: exit 0 but not the new store"
	"$FERRY" import -q --no-seed --store "$d" "$B2" >"$T/fout" 2>"$T/ferr" ||
		{ cat "$T/ferr" >&2; fail "$what: importing again failed"; }
	store_state "$d" | cmp -s - "$T/ref.state" || fail "$what: importing again did not give the new store"
}
sweep import import_prepare import_cmd import_check
echo "import: $(cat "$T/lagged" 2>/dev/null | wc -l) run(s) failed after the commit, with refs or view behind ferry.db; the next import finished them"
ok "import: every fault leaves the old store or the new one, fsck-clean, and importing again completes it"

# ---- fsck --repair-from --------------------------------------------------------------------
LAYER=$(jq -r '.manifests[0].digest' "$T/layout/index.json")
LAYER=$(jq -r '.layers[-1].digest' "$T/layout/blobs/sha256/${LAYER#sha256:}")
[ -f "$REF/blobs/sha256/${LAYER#sha256:}" ] || fail "no layer $LAYER in the store"
repair_prepare() {
	rm -rf "$1"
	cp -a "$REF" "$1"
	rm "$1/blobs/sha256/${LAYER#sha256:}"
}
repair_cmd() { "${RUN[@]}" "$FERRY" store fsck --store "$1" --repair-from "$B1" --repair-from "$B2"; }
repair_prepare "$T/damaged"
"$FERRY" store fsck --store "$T/damaged" >"$T/damage.report" 2>&1 && fail "fsck found no damage"
repair_check() {
	local d=$1 what=$2
	if "$FERRY" store fsck --store "$d" >"$T/fsck.out" 2>&1; then
		store_state "$d" | cmp -s - "$T/ref.state" || fail "$what: fsck is clean but the store is not the reference"
	else
		[ "$RC" != 0 ] || fail "$what: exit 0 but faults remain"
		diff <(sed "s|$d|STORE|g" "$T/fsck.out") <(sed "s|$T/damaged|STORE|g" "$T/damage.report") >&2 ||
			fail "$what: the store is damaged differently than before"
	fi
	"$FERRY" store fsck --store "$d" --repair-from "$B1" --repair-from "$B2" >"$T/fout" 2>"$T/ferr" ||
		{ cat "$T/ferr" >&2; fail "$what: repairing again failed"; }
	store_state "$d" | cmp -s - "$T/ref.state" || fail "$what: repairing again did not give the reference"
}
sweep fsck repair_prepare repair_cmd repair_check
ok "fsck --repair-from: every fault leaves the damage as it was or repairs it"

# ---- inbox ------------------------------------------------------------------------------
# `ferry inbox once` over bundle 2 and its signature landed in an inbox. A
# disk that fails must never cost a valid bundle: after each run the
# bundle's files are still in the inbox, in its staging or in done/ (never
# gone, and in rejected/ only when a read of the file failed, with a reason
# asking for it again), the store is the old one or the new one, and the
# next clean pass imports it.
inbox_prepare() {
	rm -rf "$1"
	mkdir -p "$1"
	cp -a "$PRE" "$1/store"
	mkdir "$1/in"
	cp "$B2" "$B2.minisig" "$1/in/"
	touch -d '-1 hour' "$1/in"/*
}
inbox_cmd() {
	"${RUN[@]}" "$FERRY" inbox once -q --no-seed --settle 0 --store "$1/store" --dir "$1/in"
}
inbox_check() {
	local d=$1 what=$2 f n
	if [ -e "$d/in/rejected/ferry-f-000002.tar" ]; then
		# A file that cannot be read is set aside to be sent again, as a
		# damaged one is: allowed for read errors only, and said so.
		case $what in *" read:"*) ;; *)
			fail "$what: a failing disk rejected bundle 2 ($(cat "$d/in/rejected/ferry-f-000002.tar.reason"))" ;;
		esac
		# (read while checking the volume: "send it again"; while checking
		# its signature sidecar: "send both again")
		grep -q "Input/output error" "$d/in/rejected/ferry-f-000002.tar.reason" &&
			grep -Eq "send (it|both) again" "$d/in/rejected/ferry-f-000002.tar.reason" ||
			fail "$what: rejected with: $(cat "$d/in/rejected/ferry-f-000002.tar.reason")"
		store_state "$d/store" | cmp -s - "$T/pre.state" ||
			fail "$what: rejected, but the store is not the old one"
		return 0
	fi
	for f in ferry-f-000002.tar ferry-f-000002.tar.minisig; do
		[ ! -e "$d/in/rejected/$f" ] ||
			fail "$what: a failing disk rejected $f ($(cat "$d/in/rejected/$f.reason" 2>/dev/null))"
		n=$(find "$d/in" -name "*$f" -type f | wc -l)
		[ "$n" -ge 1 ] || fail "$what: $f is gone from the inbox: $(find "$d/in" | tr '\n' ' ')"
	done
	store_state "$d/store" >"$T/now.state"
	if ! cmp -s "$T/now.state" "$T/pre.state" && ! cmp -s "$T/now.state" "$T/ref.state" &&
		! { store_db_state "$d/store" | cmp -s - "$T/ref.db"; }; then
		diff "$T/pre.state" "$T/now.state" >&2 || true
		fail "$what: the store is neither the old one nor the new one"
	fi
	"$FERRY" inbox once -q --no-seed --settle 0 --store "$d/store" --dir "$d/in" \
		>"$T/fout" 2>"$T/ferr" || { cat "$T/ferr" >&2; fail "$what: the next clean pass failed"; }
	[ -f "$d/in/done/ferry-f-000002.tar" ] ||
		fail "$what: after the next clean pass bundle 2 is not in done/: $(find "$d/in" | tr '\n' ' ')"
	store_state "$d/store" | cmp -s - "$T/ref.state" ||
		fail "$what: after the next clean pass the store is not the new one"
}
sweep inbox inbox_prepare inbox_cmd inbox_check
ok "inbox: no fault costs a valid bundle, and the next clean pass imports it"

# ---- seed -----------------------------------------------------------------------------
REGN=0
seed_prepare() {
	[ -z "${REGISTRY_PID:-}" ] || registry_stop
	rm -rf "$1" "$T/reg"
	cp -a "$REF" "$1"
	registry_start "$T/reg" || fail "cannot start docker-registry"
	"$FERRY" target add reg --store "$1" --kind oci --url "http://$REGISTRY_ADDR" >/dev/null ||
		fail "target add"
}
at_exit '[ -z "${REGISTRY_PID:-}" ] || registry_stop'
seed_cmd() { "${RUN[@]}" "$FERRY" seed -q --store "$1"; }
seed_check() {
	local d=$1 what=$2 repo
	for repo in library/app tools/files; do
		seed_check_registry "$REGISTRY_ADDR" "$repo"
	done
	"$FERRY" seed -q --store "$d" >"$T/fout" 2>"$T/ferr" ||
		{ cat "$T/ferr" >&2; fail "$what: seeding again failed"; }
	for repo in library/app tools/files; do
		seed_check_registry --require "$REGISTRY_ADDR" "$repo"
	done
}
sweep seed seed_prepare seed_cmd seed_check
ok "seed: every fault leaves only complete trees on the registry, and seeding again completes it"

echo "== fault injection: calls per run, distinct call sites, runs and outcomes"
cat "$SUMMARY"
echo "distinct call sites failed: $(cut -d' ' -f1,4 "$T/sites.all" | sort -u | wc -l)"
echo "faults a run survived with exit 0 (each checked to give the whole result):"
sort -u "$T/succeeded" 2>/dev/null | sed 's/^/  /' || true
if [ -s "$T/failures" ]; then
	echo "runs that failed their check: $(wc -l <"$T/failures")"
	sed 's/^/  /' "$T/failures"
	fail "$(wc -l <"$T/failures") run(s) failed their check"
fi
