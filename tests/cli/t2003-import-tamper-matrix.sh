#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# ferry import publishes nothing from a tampered bundle. One bundle (channel
# c) is tampered with in many ways and imported into a store that already
# holds a bundle of another channel (base) and, for every fourth flip and
# truncation and for every other case, also into a store that only has its
# trust root. Every tampered import must exit 2 with an error on stderr,
# add exactly one "rejected" audit event, and leave the store's content
# exactly as it was: every path except ferry.db*, lock and staging/ (names,
# types, file bytes), and the schema and rows of every table but audit.
# The cases:
#   flips      one byte inverted at >= 200 offsets spread over the data of
#              every member, the envelope included (never in tar headers or
#              in the data padding, which the envelope does not cover)
#   truncation >= 50 cut points spread over the whole file, plus cuts at the
#              envelope's end, the first header, and in and before the
#              end-of-archive marker
#   appends    bytes after the end-of-archive marker that are not all zero
#   reorder, drop, add   the tar rebuilt by GNU tar from an extracted copy
#              with members swapped, left out, duplicated or unlisted ones
#              added
# A rebuild in the original order passes 'ferry verify --store' (so the
# rebuild itself is not what gets rejected), and finally the untampered
# bundle imports (exit 0) and changes the hash of both stores.
need jq sqlite3 sha256sum umoci
# Hundreds of runs: all of them use one copy of the binary, even if it is
# rebuilt while the test runs.
cp "$FERRY" "$T/ferry"
FERRY=$T/ferry
. "$SRC/tests/lib/oci-fixture.sh"

# store_state STORE: "HASH N". HASH is a sha256 over the store's content:
# every path under STORE but ferry.db, ferry.db-wal, ferry.db-shm, lock and
# staging/ (type and name; for files the sha256 of their bytes), then the
# schema and the rows of every table but audit, read through sqlite3 (which
# sees what is still in the WAL). N counts the audit table's rejections.
# TABLES (all tables but audit) is read once per store by store_tables; a
# table added later still changes the hash through the schema.
declare -A TABLES
store_tables() {
	TABLES[$1]=$(sqlite3 "$1/ferry.db" \
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'audit' ORDER BY name" |
		tr '\n' ' ') || fail "cannot read $1/ferry.db"
	[ -n "${TABLES[$1]}" ] || fail "no tables in $1/ferry.db"
}
store_state() {
	local s=$1 h
	[ -f "$s/ferry.db" ] || fail "store_state: no $s/ferry.db"
	sqlite3 "$s/ferry.db" .schema ".dump ${TABLES[$s]}" \
		"SELECT '#rejected ' || count(*) FROM audit WHERE outcome = 'rejected'" >"$T/db.dump" ||
		fail "store_state: cannot read $s/ferry.db"
	h=$({
		(cd "$s" && find . \( -path ./staging -o -path ./ferry.db -o -path ./ferry.db-wal \
			-o -path ./ferry.db-shm -o -path ./lock \) -prune \
			-o -type f -exec sha256sum {} + -o -printf '%y %p\n' | LC_ALL=C sort)
		grep -v '^#rejected ' "$T/db.dump"
	} | sha256sum | cut -d' ' -f1)
	echo "$h $(sed -n 's/^#rejected //p' "$T/db.dump")"
}
store_hash() { local st; st=$(store_state "$1"); echo "${st% *}"; }

# ---- fixture: two bundles, two stores -------------------------------------------
make_oci_layout "$T/c/layout" 256 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
make_oci_layout "$T/base/layout" 16 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: c\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/c/spec.yaml"
printf 'channel: base\nsources:\n  - oci-layout: layout\n    name: library/base\n' >"$T/base/spec.yaml"
mkdir "$T/bundles"
for ch in c base; do
	expect_exit 0 "$FERRY" export -q --spec "$T/$ch/spec.yaml" --key "$T/k.key" \
		--out "$T/bundles" --state "$T/state.db"
done
B=$T/bundles/ferry-c-000001.tar
BASE=$T/bundles/ferry-base-000001.tar
[ -f "$B" ] && [ -f "$BASE" ] || fail "export wrote: $(ls "$T/bundles")"
SIZE=$(stat -c %s "$B")

EMPTY=$T/store-empty
FULL=$T/store-base
expect_exit 0 "$FERRY" trust init --store "$EMPTY" --key "$T/k.pub"
expect_exit 0 "$FERRY" trust init --store "$FULL" --key "$T/k.pub"
expect_exit 0 "$FERRY" import -q --store "$FULL" "$BASE"
[ "$(sqlite3 "$FULL/ferry.db" "SELECT count(*) FROM tags WHERE channel = 'base'")" = 3 ] ||
	fail "the base bundle did not publish its 3 tags"
STORES=("$EMPTY" "$FULL")
declare -A H0 REJ
for s in "${STORES[@]}"; do
	store_tables "$s"
	read -r "H0[$s]" "REJ[$s]" < <(store_state "$s")
done
[ "$(store_hash "$EMPTY")" = "${H0[$EMPTY]}" ] || fail "store_hash is not stable"
[ "${H0[$EMPTY]}" != "${H0[$FULL]}" ] || fail "store_hash does not see the base import"
ok "fixture: bundle c ($SIZE bytes), an empty store and a store holding channel base"

# reject FILE WHAT [both]: importing FILE exits 2 with an error, records one
# more rejection in the audit table and changes nothing else. Every case runs
# against the store holding channel base; every fourth flip and truncation,
# and every other case ("both"), also against the empty store.
ncases=0 nimports=0
reject() {
	local file=$1 what=$2 s got h n stores=("$FULL")
	if [ "${3:-}" = both ] || [ $((ncases % 4)) = 0 ]; then stores+=("$EMPTY"); fi
	for s in "${stores[@]}"; do
		got=0
		"$FERRY" import -q --store "$s" "$file" >"$T/out" 2>"$T/err" || got=$?
		[ "$got" = 2 ] || { cat "$T/out" "$T/err" >&2; fail "$what: import into $(basename "$s") exited $got, expected 2"; }
		[ -s "$T/err" ] || fail "$what: import into $(basename "$s") exited 2 without an error message"
		read -r h n < <(store_state "$s")
		[ "$h" = "${H0[$s]}" ] || fail "$what: the rejected import changed $(basename "$s") (store_hash $h, was ${H0[$s]})"
		[ "$n" = $((REJ[$s] + 1)) ] ||
			fail "$what: $(basename "$s") has $n rejected audit events, expected $((REJ[$s] + 1))"
		REJ[$s]=$n
		nimports=$((nimports + 1))
	done
	ncases=$((ncases + 1))
}

# ---- the bundle's layout ------------------------------------------------------------
# Every member: name, data offset, size; ferry writes plain ustar headers.
mapfile -t NAMES < <(tar -tf "$B")
[ "${NAMES[0]}" = ferry-manifest.dsse.json ] || fail "first member is ${NAMES[0]}"
[ "${#NAMES[@]}" -ge 10 ] || fail "only ${#NAMES[@]} members"
declare -A OFF SZ
for m in "${NAMES[@]}"; do
	OFF[$m]=$(data_offset "$B" "$m")
	SZ[$m]=$(tar -tvf "$B" "$m" | awk '{print $3}')
done
last=${NAMES[-1]}
DATA_END=$((OFF[$last] + SZ[$last]))                 # end of the last member's data
TRAILER=$(((DATA_END + 511) / 512 * 512))            # end-of-archive marker
[ "$SIZE" -ge $((TRAILER + 1024)) ] || fail "no end-of-archive marker at $TRAILER"
[ "$(tail -c +$((TRAILER + 1)) "$B" | tr -d '\0' | wc -c)" = 0 ] || fail "non-zero bytes after the last member"

# ---- (a) one flipped byte -------------------------------------------------------------
# n offsets spread evenly over each member's data, first and last byte
# included: 48 for the envelope, 32 for members of 64 KiB or more, else 16
# (or every byte of a smaller member).
W=$T/work.tar
cp "$B" "$W"
nflips=0
for m in "${NAMES[@]}"; do
	size=${SZ[$m]} off=${OFF[$m]}
	if [ "$m" = ferry-manifest.dsse.json ]; then n=48
	elif [ "$size" -ge 65536 ]; then n=32
	else n=16; fi
	[ "$n" -le "$size" ] || n=$size
	[ "$n" -ge 1 ] || continue
	for j in $(seq 0 $((n - 1))); do
		if [ "$n" = 1 ]; then p=$off; else p=$((off + j * (size - 1) / (n - 1))); fi
		flip_byte "$W" "$p"
		reject "$W" "byte $p flipped ($m, data byte $((p - off)) of $size)"
		flip_byte "$W" "$p"
		nflips=$((nflips + 1))
	done
	ok "$n flipped bytes in $m ($size bytes): each rejected, store unchanged"
done
cmp -s "$W" "$B" || fail "flipping twice did not restore the bundle"
[ "$nflips" -ge 200 ] || fail "only $nflips flips ran"
ok "$nflips flipped bytes over all ${#NAMES[@]} members rejected"

# ---- (b) truncation ---------------------------------------------------------------------
# 52 cuts spread over the file (0 included), then the interesting places.
env_end=$((${OFF[${NAMES[0]}]} + ${SZ[${NAMES[0]}]}))
cuts=()
for i in $(seq 0 51); do cuts+=($((i * SIZE / 52))); done
cuts+=(1 511 512 $((env_end - 1)) "$env_end" $((OFF[${NAMES[1]}] - 512))
	"${OFF[${NAMES[1]}]}" $((DATA_END - 1)) "$DATA_END" "$TRAILER" $((TRAILER + 511))
	$((TRAILER + 512)) $((TRAILER + 1023)) $((SIZE - 1)))
ntrunc=0
for cut in $(printf '%s\n' "${cuts[@]}" | sort -nu); do
	[ "$cut" -lt "$SIZE" ] || continue
	head -c "$cut" "$B" >"$W"
	reject "$W" "truncated to $cut of $SIZE bytes"
	ntrunc=$((ntrunc + 1))
done
[ "$ntrunc" -ge 50 ] || fail "only $ntrunc truncations ran"
ok "$ntrunc truncations (from 0 bytes to 1 byte short, both halves of the end-of-archive marker) rejected"

# ---- (c) appended garbage ---------------------------------------------------------------
append_case() { # WHAT FILE: FILE's bytes appended to the bundle
	cat "$B" "$2" >"$W"
	reject "$W" "$1" both
	ok "appended $1: rejected"
}
printf 'X' >"$T/tail"
append_case "one byte 'X'" "$T/tail"
printf 'garbage\n' >"$T/tail"
append_case "a line of text" "$T/tail"
{ head -c 512 /dev/urandom; printf '\001'; } >"$T/tail"
append_case "513 random bytes" "$T/tail"
{ head -c 10240 /dev/zero; printf '\001'; } >"$T/tail"
append_case "10 KiB of zeros then one 0x01 byte" "$T/tail"
append_case "a whole second bundle (tar concatenation)" "$BASE"
append_case "the bundle itself again" "$B"

# ---- (d)-(f) rebuilt archives -----------------------------------------------------------
X=$T/x
mkdir "$X"
tar -xf "$B" -C "$X"
# rebuild OUT MEMBER...: a pax tar from the extracted copy, members in this
# order; a name given twice is stored twice as a regular file (without
# --hard-dereference GNU tar stores the second one as a hard link).
rebuild() {
	local out=$1
	shift
	tar --format=pax --owner=0 --group=0 --numeric-owner --mode=0644 --hard-dereference \
		-cf "$out" -C "$X" "$@"
}
# Control: the rebuild in the original order passes every import check.
rebuild "$W" "${NAMES[@]}"
for s in "${STORES[@]}"; do
	expect_exit 0 "$FERRY" verify -q --store "$s" "$W"
	[ "$(store_hash "$s")" = "${H0[$s]}" ] || fail "ferry verify --store changed $(basename "$s")"
done
ok "control: GNU tar rebuild in the original order passes 'ferry verify --store' on both stores"

rebuilt_case() { # WHAT MEMBER...
	local what=$1
	shift
	rebuild "$W" "$@"
	reject "$W" "$what" both
	ok "$what: rejected"
}
ENV=${NAMES[0]}
REST=("${NAMES[@]:1}")                    # members after the envelope
NR=${#REST[@]}
MID=$((NR / 2))
swap() { # I J: REST with members I and J swapped
	local a=("${REST[@]}") t
	t=${a[$1]} a[$1]=${a[$2]} a[$2]=$t
	printf '%s\n' "${a[@]}"
}
without() { # I: REST without member I
	local a=("${REST[@]}")
	unset "a[$1]"
	printf '%s\n' "${a[@]}"
}
mapfile -t L < <(swap 0 1)
rebuilt_case "reorder: ${REST[0]} and ${REST[1]} swapped" "$ENV" "${L[@]}"
mapfile -t L < <(swap "$MID" $((MID + 1)))
rebuilt_case "reorder: adjacent members $((MID + 2)) and $((MID + 3)) swapped" "$ENV" "${L[@]}"
mapfile -t L < <(swap 2 $((NR - 1)))
rebuilt_case "reorder: members 4 and $((NR + 1)) (first blob and last member) swapped" "$ENV" "${L[@]}"
rebuilt_case "reorder: envelope second" "${REST[0]}" "$ENV" "${REST[@]:1}"
rebuilt_case "reorder: envelope last" "${REST[@]}" "$ENV"
mapfile -t L < <(printf '%s\n' "${REST[@]}" | tac)
rebuilt_case "reorder: members after the envelope reversed" "$ENV" "${L[@]}"

rebuilt_case "drop: the envelope" "${REST[@]}"
for i in 0 1 "$MID" $((NR - 1)); do
	mapfile -t L < <(without "$i")
	rebuilt_case "drop: member $((i + 2)) (${REST[$i]})" "$ENV" "${L[@]}"
done
big=$(for m in "${REST[@]}"; do echo "${SZ[$m]} $m"; done | sort -n | tail -n1 | cut -d' ' -f2)
mapfile -t L < <(printf '%s\n' "${REST[@]}" | grep -vxF "$big")
rebuilt_case "drop: the largest member ($big)" "$ENV" "${L[@]}"

printf 'not listed\n' >"$X/extra.txt"
: >"$X/empty"
mkdir -p "$X/ferry-parts"
cp "$X/index.json" "$X/ferry-parts/index.json.001"
printf 'an unlisted blob named by its own digest\n' >"$T/blob"
xhex=$(sha256sum "$T/blob" | cut -d' ' -f1)
cp "$T/blob" "$X/blobs/sha256/$xhex"
rebuilt_case "add: unlisted extra.txt at the end" "$ENV" "${REST[@]}" extra.txt
rebuilt_case "add: unlisted extra.txt right after the envelope" "$ENV" extra.txt "${REST[@]}"
rebuilt_case "add: unlisted extra.txt in the middle" "$ENV" "${REST[@]:0:MID}" extra.txt "${REST[@]:MID}"
rebuilt_case "add: unlisted empty file at the end" "$ENV" "${REST[@]}" empty
rebuilt_case "add: unlisted blob named by its digest" "$ENV" "${REST[@]}" "blobs/sha256/$xhex"
rebuilt_case "add: unlisted ferry-parts/index.json.001" "$ENV" "${REST[@]}" ferry-parts/index.json.001
rebuilt_case "add: ${REST[0]} a second time at the end" "$ENV" "${REST[@]}" "${REST[0]}"
mapfile -t L < <(printf '%s\n' "${REST[@]}" | sed "\|^$big\$|p")
rebuilt_case "add: $big a second time right after it" "$ENV" "${L[@]}"
rebuilt_case "add: a second envelope at the end" "$ENV" "${REST[@]}" "$ENV"
rebuilt_case "add: a second envelope right after the first" "$ENV" "$ENV" "${REST[@]}"
tar --format=pax --owner=0 --group=0 --numeric-owner --mode=0644 -cf "$W" -C "$X" \
	"$ENV" "${REST[@]}" "${REST[0]}"
[ "$(tar -tvf "$W" | tail -n1 | cut -c1)" = h ] || fail "GNU tar did not store a hard link"
reject "$W" "add: a hard link to ${REST[0]} at the end" both
ok "add: a hard link to ${REST[0]} at the end: rejected"

ok "$ncases tampered bundles ($nflips flips, $ntrunc truncations; $nimports imports) rejected with exit 2, stores unchanged"

# ---- the untampered bundle --------------------------------------------------------------
for s in "${STORES[@]}"; do
	expect_exit 0 "$FERRY" import -q --store "$s" "$B"
	[ "$(sqlite3 "$s/ferry.db" "SELECT sequence FROM channels WHERE name = 'c'")" = 1 ] ||
		fail "$(basename "$s"): channel c is not at sequence 1 after the import"
	[ "$(store_hash "$s")" != "${H0[$s]}" ] || fail "$(basename "$s"): the import did not change store_hash"
done
ok "the untampered bundle imports into both stores (exit 0) and changes store_hash"
