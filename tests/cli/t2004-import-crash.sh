#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/store-state.sh"
# ferry import survives SIGKILL at any point. A store holds sequence 1 of
# channel crash (tags v1, multi; git repository org/app at tag v1);
# sequence 2 (~40 MiB: an image of 80 random 512 KiB layers tagged v2, a new
# multi index over it, and 20 new commits of org/app in a thin pack that
# `git index-pack --fix-thin` completes) is imported
# uninterrupted on copies of that store to measure its duration T0, the
# time TP from the first blob appearing in blobs/sha256 to the end, and the
# reference content. Then the import of sequence 2 into a fresh copy of the
# sequence 1 store is killed with SIGKILL, 50 times after i/50 x 1.2 x T0,
# and 20 times after j/20 x 1.2 x TP counted from the first published blob
# (to hit publishing, the commit and the layout view). After each kill:
#   - PRAGMA integrity_check says ok;
#   - every tag resolves: its manifest or index and everything it refers to
#     (config, layers, child manifests, recursively) exists in
#     blobs/sha256 and hashes to its name;
#   - the channel is at sequence 1 with exactly the old tags and no import
#     record of sequence 2, or at sequence 2 with exactly the new tags;
#   - the git repository's refs are the old ones or, at sequence 2, each
#     at its old or its new commit (refs move last, one by one: they may
#     lag the commit until the next import), and `git fsck
#     --connectivity-only` finds what they name complete;
#   - importing the same bundle again exits 0 ("imported" when the kill came
#     before the commit, "already imported" after it), leaves staging/
#     empty, and gives exactly the reference content: every file but
#     ferry.db*, lock and staging/ (names, types, bytes) and the rows of
#     channels, tags, refs, blobs, meta, trust_roots and imports (without
#     the import time), audit excluded.
# Timing only decides where a kill lands; the distribution is printed.
need jq sqlite3 sha256sum git
# Hundreds of runs: all of them use one copy of the binary, even if it is
# rebuilt while the test runs.
cp "$FERRY" "$T/ferry"
FERRY=$T/ferry
KILLS=${FERRY_CRASH_KILLS:-50}       # kills spread over 1.2 x T0 from the start
LATE=${FERRY_CRASH_LATE:-20}         # kills spread over 1.2 x TP from the first published blob

# make_layout DIR NLAYERS KIB TAG: an OCI layout with an image of NLAYERS
# layers of KIB KiB random bytes (ferry does not look into layers) tagged
# TAG, and an image index over that image tagged multi.
make_layout() {
	local dir=$1 n=$2 kib=$3 tag=$4 i layers="" cfg man idx
	mkdir -p "$dir/blobs/sha256"
	printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	for i in $(seq 1 "$n"); do
		head -c $((kib * 1024)) /dev/urandom >"$dir/new"
		layers+="$(put_blob "$dir")"$'\n'
	done
	printf '%s' "$layers" | jq -Rcn '{architecture: "amd64", os: "linux",
		rootfs: {type: "layers",
			diff_ids: [inputs | select(length > 0) | "sha256:" + split(" ")[0]]}}' >"$dir/new"
	cfg=$(put_blob "$dir")
	printf '%s' "$layers" | jq -Rcn --arg c "sha256:${cfg% *}" --argjson cs "${cfg#* }" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [inputs | select(length > 0) | split(" ") |
			{mediaType: "application/vnd.oci.image.layer.v1.tar",
			 digest: ("sha256:" + .[0]), size: (.[1] | tonumber)}]}' >"$dir/new"
	man=$(put_blob "$dir")
	jq -cn --arg d "sha256:${man% *}" --argjson s "${man#* }" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $d, size: $s, platform: {architecture: "amd64", os: "linux"}}]}' >"$dir/new"
	idx=$(put_blob "$dir")
	jq -cn --arg t "$tag" --arg m "sha256:${man% *}" --argjson ms "${man#* }" \
		--arg i "sha256:${idx% *}" --argjson is "${idx#* }" '{schemaVersion: 2, manifests: [
		{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
		 annotations: {"org.opencontainers.image.ref.name": $t}},
		{mediaType: "application/vnd.oci.image.index.v1+json", digest: $i, size: $is,
		 annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' >"$dir/index.json"
}
# put_blob DIR: move DIR/new into DIR's blob store; print "HEX SIZE".
put_blob() {
	local hex
	hex=$(sha256sum "$1/new" | cut -d' ' -f1)
	mv "$1/new" "$1/blobs/sha256/$hex"
	echo "$hex $(stat -c %s "$1/blobs/sha256/$hex")"
}

# The store's content: every path under it but ferry.db*, lock and staging/
# (type and name, and for files their bytes), and the rows that make up its
# state, read through sqlite3 (which sees what is still in the WAL): no
# audit rows, no import time, no row ids.
EXCLUDE=(ferry.db ferry.db-wal ferry.db-shm lock staging)
paths_of() {
	(cd "$1" && find . \( -path ./staging -o -path ./ferry.db -o -path ./ferry.db-wal \
		-o -path ./ferry.db-shm -o -path ./lock \) -prune -o -printf '%y %p\n' | LC_ALL=C sort)
}
db_state() { store_db_state "$1"; }
# same_content A B: A and B hold the same content (else print how they differ
# and return 1). Files are compared byte for byte (diff -r; the names in
# EXCLUDE are matched as basenames, and this store has no other files so
# named).
same_content() {
	diff <(paths_of "$1") <(paths_of "$2") >&2 || return 1
	diff -rq "${EXCLUDE[@]/#/--exclude=}" "$1" "$2" >&2 || return 1
	diff <(db_state "$1") <(db_state "$2") >&2 || return 1
}

tags_of() { sqlite3 "$1/ferry.db" "SELECT * FROM tags ORDER BY reference"; }
sequence_of() { sqlite3 "$1/ferry.db" "SELECT sequence FROM channels WHERE name = 'crash'"; }

# check_tags STORE: every tag's manifest or index, and everything it refers
# to, recursively, exists in STORE/blobs/sha256 and hashes to its name.
check_tags() {
	local s=$1 d mt hex f queue=() child children
	declare -A seen=()
	: >"$T/resolve.sha256"
	while IFS='|' read -r d mt; do queue+=("$d $mt"); done < <(
		sqlite3 "$s/ferry.db" "SELECT digest, media_type FROM tags ORDER BY reference")
	[ "${#queue[@]}" -gt 0 ] || fail "no tags in $s"
	while [ "${#queue[@]}" -gt 0 ]; do
		d=${queue[0]% *} mt=${queue[0]#* }
		queue=("${queue[@]:1}")
		case $d in sha256:????????????????????????????????????????????????????????????????) ;;
		*) fail "malformed digest '$d' in $s" ;; esac
		hex=${d#sha256:}
		[ -z "${seen[$hex]:-}" ] || continue
		seen[$hex]=1
		f=$s/blobs/sha256/$hex
		[ -f "$f" ] || fail "$d ($mt) is referenced but $f does not exist"
		case $mt in
		*manifest*json | *index*json)
			[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$hex" ] || fail "$f does not hash to its name"
			children=$(jq -r '[.config // empty] + (.layers // []) + (.manifests // []) |
				.[] | "\(.digest) \(.mediaType)"' "$f") || fail "$f is not a manifest or index"
			while read -r child; do [ -z "$child" ] || queue+=("$child"); done <<<"$children"
			;;
		*) echo "$hex  $f" >>"$T/resolve.sha256" ;;
		esac
	done
	sha256sum --quiet -c "$T/resolve.sha256" >&2 || fail "blobs referenced by tags do not hash to their names"
}

now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
spin_us() { # busy-wait N microseconds (no fork: precise for short delays)
	local end=$((${EPOCHREALTIME/[.,]/} + $1))
	while [ "${EPOCHREALTIME/[.,]/}" -lt "$end" ]; do :; done
}
[ -n "${EPOCHREALTIME:-}" ] || skip_all "needs bash 5 (EPOCHREALTIME)"

# start_import: import bundle 2 into $S in the background; sets PID.
start_import() {
	"$FERRY" import -q --store "$S" "$B2" >"$T/bg.out" 2>"$T/bg.err" &
	PID=$!
}
# wait_published: busy-wait (shell builtins only) until blobs/sha256 holds
# more than the PRE_BLOBS files of the old store or the import has ended;
# at most 60 s.
wait_published() {
	local f end=$((${EPOCHREALTIME/[.,]/} + 60000000))
	while kill -0 "$PID" 2>/dev/null && [ "${EPOCHREALTIME/[.,]/}" -lt "$end" ]; do
		f=("$S"/blobs/sha256/*)
		[ "${#f[@]}" -le "$PRE_BLOBS" ] || return 0
	done
}

# ---- fixture ----------------------------------------------------------------------
make_layout "$T/s1/layout" 3 64 v1
make_layout "$T/s2/layout" 80 512 v2
"$FERRY" keygen -o "$T/k" >/dev/null
mkdir "$T/bundles"
git init -q -b main "$T/repo"
# commit N FIRST LAST: commits FIRST..LAST, each adding a 16 KiB file
commits() {
	local c
	for c in $(seq "$1" "$2"); do
		head -c 16384 /dev/urandom | base64 >"$T/repo/f$c.txt"
		git -C "$T/repo" add "f$c.txt"
		git -C "$T/repo" -c user.name=t -c user.email=t@t commit -q -m "commit $c"
	done
}
for i in 1 2; do
	if [ "$i" = 1 ]; then commits 1 3; else commits 4 23; fi
	git -C "$T/repo" tag "v$i"
	printf 'channel: crash\nsources:\n  - oci-layout: layout\n    name: library/app\n  - git: %s\n    name: org/app\n' \
		"$T/repo" >"$T/s$i/spec.yaml"
	expect_exit 0 "$FERRY" export -q --spec "$T/s$i/spec.yaml" --key "$T/k.key" \
		--out "$T/bundles" --state "$T/state.db"
done
B1=$T/bundles/ferry-crash-000001.tar
B2=$T/bundles/ferry-crash-000002.tar
[ -f "$B1" ] && [ -f "$B2" ] || fail "export wrote: $(ls "$T/bundles")"
[ "$(stat -c %s "$B2")" -gt $((40 * 1024 * 1024)) ] || fail "bundle 2 is only $(stat -c %s "$B2") bytes"

PRE=$T/pre
S=$T/store
REF=$T/ref     # the store after an uninterrupted import
expect_exit 0 "$FERRY" trust init --store "$PRE" --key "$T/k.pub"
expect_exit 0 "$FERRY" import -q --store "$PRE" "$B1"
[ "$(sequence_of "$PRE")" = 1 ] || fail "the store is not at sequence 1"
check_tags "$PRE"
tags_of "$PRE" >"$T/tags.old"
[ "$(cut -d'|' -f1 "$T/tags.old" | tr '\n' ' ')" = "library/app:multi library/app:v1 " ] ||
	fail "old tags: $(cat "$T/tags.old")"
PRE_BLOBS=$(ls "$PRE/blobs/sha256" | wc -l)
REPO=org/app.git
refs_of() { git -C "$1/git/$REPO" for-each-ref --format='%(refname) %(objectname)'; }
refs_of "$PRE" >"$T/refs.old"
[ "$(wc -l <"$T/refs.old")" = 2 ] || fail "old refs: $(cat "$T/refs.old")"
ok "fixture: a store at sequence 1 (tags v1, multi; $PRE_BLOBS blobs) and bundle 2 ($(($(stat -c %s "$B2") / 1048576)) MiB, 80 layers)"

# ---- reference: the uninterrupted import ----------------------------------------------
restore() { rm -rf "$S"; cp -a "$PRE" "$S"; }
# Run 1 warms the page cache and becomes the reference; T0 is the longest
# of runs 2-4 (imports inside the kill loop tend to be slower than these),
# TP the median time from the first published blob to the end of runs 5-7
# (which busy-wait for that blob, so they are not timed for T0).
T0S=() TPS=()
for run in 1 2 3 4 5 6 7; do
	restore
	t=$(now_us)
	start_import
	[ "$run" -lt 5 ] || wait_published
	tp=$(now_us)
	st=0
	wait "$PID" || st=$?
	[ "$st" = 0 ] || { cat "$T/bg.out" "$T/bg.err" >&2; fail "uninterrupted import exited $st"; }
	t2=$(now_us)
	if [ "$run" = 1 ]; then
		mv "$S" "$REF"
		continue
	elif [ "$run" -lt 5 ]; then
		T0S+=($(((t2 - t) / 1000)))
	else
		TPS+=($((t2 - tp)))
	fi
	same_content "$REF" "$S" || fail "two uninterrupted imports give different content"
done
T0=$(printf '%s\n' "${T0S[@]}" | sort -n | tail -n1)         # ms
TP=$(printf '%s\n' "${TPS[@]}" | sort -n | sed -n 2p)        # us
[ "$(sequence_of "$S")" = 2 ] || fail "the uninterrupted import did not reach sequence 2"
check_tags "$S"
tags_of "$S" >"$T/tags.new"
[ "$(cut -d'|' -f1 "$T/tags.new" | tr '\n' ' ')" = "library/app:multi library/app:v1 library/app:v2 " ] ||
	fail "new tags: $(cat "$T/tags.new")"
! cmp -s "$T/tags.old" "$T/tags.new" || fail "sequence 2 did not change the tags"
! same_content "$PRE" "$REF" 2>/dev/null || fail "same_content does not see the import"
cp "$S/index.json" "$T/index.new"
refs_of "$S" >"$T/refs.new"
[ "$(wc -l <"$T/refs.new")" = 3 ] && ! cmp -s "$T/refs.old" "$T/refs.new" ||
	fail "new refs: $(cat "$T/refs.new")"
[ "$T0" -ge 50 ] || echo "# note: the import takes only $T0 ms, so few kills land inside it"
ok "reference: uninterrupted import of sequence 2 takes T0 = $T0 ms (TP = $((TP / 1000)) ms after the first blob is published), same content every time"

# ---- kill, check, finish ----------------------------------------------------------------
declare -A WHERE=()
nk=0
crash() { # DELAY_MS | DELAY_US published: kill DELAY_MS after the start, or DELAY_US after the first published blob
	local delay=$1 pid st where seq
	restore
	start_import
	pid=$PID
	if [ "${2:-}" = published ]; then
		wait_published
		spin_us "$delay"
		delay="$delay us after the first published blob"
	else
		sleep_ms "$delay"
		delay="$delay ms"
	fi
	kill -KILL "$pid" 2>/dev/null || true
	st=0
	{ wait "$pid"; } 2>/dev/null || st=$?   # (no "Killed" notice from bash)
	case $st in
	0 | 137) ;;
	*) cat "$T/bg.out" "$T/bg.err" >&2; fail "kill after $delay: import exited $st" ;;
	esac
	nk=$((nk + 1))

	[ "$(sqlite3 "$S/ferry.db" 'PRAGMA integrity_check')" = ok ] ||
		fail "kill after $delay: integrity_check says $(sqlite3 "$S/ferry.db" 'PRAGMA integrity_check' | head -n3)"
	check_tags "$S"
	git -C "$S/git/$REPO" fsck --no-progress --connectivity-only --no-dangling >&2 ||
		fail "kill after $delay: the git repository's refs name incomplete history"
	seq=$(sequence_of "$S")
	case $seq in
	1)
		tags_of "$S" | cmp -s - "$T/tags.old" || fail "kill after $delay: at sequence 1 but the tags changed"
		refs_of "$S" | cmp -s - "$T/refs.old" || fail "kill after $delay: at sequence 1 but the git refs moved"
		[ "$(sqlite3 "$S/ferry.db" "SELECT count(*) FROM imports WHERE sequence = 2")" = 0 ] ||
			fail "kill after $delay: at sequence 1 with an import record of sequence 2"
		[ "$st" = 137 ] || fail "import exited 0 but the store is at sequence 1"
		if [ "$(ls "$S/blobs/sha256" | wc -l)" = "$PRE_BLOBS" ]; then
			where="before commit: verifying and staging"
		else
			where="before commit: blobs being published"
		fi
		;;
	2)
		tags_of "$S" | cmp -s - "$T/tags.new" || fail "kill after $delay: at sequence 2 but the tags are not the new ones"
		# each ref at its old or its new commit (they move one by one)
		refs_of "$S" | grep -vxF -f "$T/refs.new" | grep -vxF -f "$T/refs.old" >&2 &&
			fail "kill after $delay: at sequence 2 a git ref is at neither its old nor its new commit"
		cut -d' ' -f1 "$T/refs.old" | grep -vxF -f <(refs_of "$S" | cut -d' ' -f1) >&2 &&
			fail "kill after $delay: at sequence 2 a git ref of sequence 1 is gone"
		[ "$(sqlite3 "$S/ferry.db" "SELECT count(*) FROM imports WHERE sequence = 2")" = 1 ] ||
			fail "kill after $delay: at sequence 2 without its import record"
		if [ "$st" = 0 ]; then
			where="after completion"
		elif cmp -s "$S/index.json" "$T/index.new"; then
			where="after commit: layout view written"
		else
			where="after commit: before the layout view"
		fi
		;;
	*) fail "kill after $delay: channel crash is at sequence '$seq'" ;;
	esac
	WHERE[$where]=$((${WHERE[$where]:-0} + 1))

	# Finish the import.
	expect_exit 0 "$FERRY" import --store "$S" "$B2"
	if [ "$seq" = 1 ]; then
		expect_out "imported: channel crash sequence 2"
		! grep -q "already imported" "$T/out" || fail "kill after $delay ($where): re-import says already imported"
	else
		expect_out "already imported: channel crash sequence 2"
	fi
	[ -z "$(ls -A "$S/staging" 2>/dev/null)" ] || fail "kill after $delay ($where): staging/ not empty: $(ls -A "$S/staging")"
	same_content "$REF" "$S" ||
		fail "kill after $delay ($where): after the re-import the store differs from an uninterrupted import"
}

for i in $(seq 1 "$KILLS"); do crash $((i * T0 * 12 / (10 * KILLS))); done
ok "$KILLS kills spread over 1.2 x T0: store intact, old or new state, re-import gives the reference content"
for i in $(seq 0 $((LATE - 1))); do crash $((i * TP * 12 / (10 * LATE))) published; done
ok "$LATE kills spread over 1.2 x TP after the first published blob: store intact, old or new state, re-import gives the reference content"

echo "# where $nk kills landed (T0 = $T0 ms, TP = $((TP / 1000)) ms):"
for w in "before commit: verifying and staging" "before commit: blobs being published" \
	"after commit: before the layout view" "after commit: layout view written" "after completion"; do
	printf '#   %-40s %3d\n' "$w" "${WHERE[$w]:-0}"
done
before=$((${WHERE["before commit: verifying and staging"]:-0} + ${WHERE["before commit: blobs being published"]:-0}))
# Where kills land depends on timing (a loaded machine slows the import
# down), so this is reported, not asserted.
[ "$before" -gt 0 ] || echo "# note: no kill landed before the commit"
[ "$before" -lt "$nk" ] || echo "# note: no kill landed after the commit"
ok "$nk kills ($before before the commit, $((nk - before)) after it): every store intact and recovered"
