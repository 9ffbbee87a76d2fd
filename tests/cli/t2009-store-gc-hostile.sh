#!/usr/bin/env bash
# ferry store gc cannot delete live data, whatever the store holds. Content
# an import would refuse is put straight into a store (as a failing disk or
# an older ferry could have left it), then gc must stop before deleting
# anything, naming the tag and the document, when a tag reaches:
#   an index chain 20 deep (the limit is FERRY_OCI_MAX_DEPTH, 8)
#   a 5 MiB index (the limit is 4 MiB)
#   a tagged manifest truncated on disk
# gc refuses an empty ferry.db (and leaves it empty: no schema is written)
# and a database without a trust root; it works on a store that holds only
# git content; and --dry-run --json lists exactly the digests the run then
# deletes.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq sqlite3 sha256sum git
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/layout" 16 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: c\nsources:\n  - oci-layout: %s\n    name: library/app\n' "$T/layout" >"$T/spec.yaml"
mkdir "$T/bundles"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db"
BUNDLE=$(ls "$T"/bundles/*.tar)

# new_store DIR: a store with the fixture image imported.
new_store() {
	expect_exit 0 "$FERRY" trust init --store "$1" --key "$T/k.pub"
	expect_exit 0 "$FERRY" import -q --store "$1" "$BUNDLE"
}
# put_blob STORE FILE: store FILE as a blob (no record); prints its digest.
put_blob() {
	local h
	h=$(sha256sum "$2" | cut -d' ' -f1)
	cp "$2" "$1/blobs/sha256/$h"
	echo "sha256:$h"
}
# set_tag STORE REF DIGEST MEDIATYPE: bind REF in the database.
set_tag() {
	sqlite3 "$1/ferry.db" "INSERT INTO tags(reference, digest, media_type, size, channel, sequence)
		VALUES ('$2', '$3', '$4', $(stat -c %s "$1/blobs/sha256/${3#sha256:}"), 'c', 1)
		ON CONFLICT(reference) DO UPDATE SET digest = excluded.digest,
		media_type = excluded.media_type, size = excluded.size" || fail "set_tag $2"
}
# listing STORE: every file under blobs/sha256, sorted.
listing() { ls "$1/blobs/sha256" | sort; }
# garbage STORE: an unreachable blob that a gc which runs would delete.
garbage() { echo "garbage $RANDOM" >"$T/g"; put_blob "$1" "$T/g" >/dev/null; }
# refused STORE TEXT...: gc of STORE exits 1 saying every TEXT, and deletes nothing.
refused() {
	local s=$1 before
	shift
	before=$(listing "$s")
	expect_exit 1 "$FERRY" store gc --store "$s"
	while [ $# -gt 0 ]; do expect_err "$1"; shift; done
	[ "$(listing "$s")" = "$before" ] || fail "gc of $s deleted blobs: $(comm -23 <(echo "$before") <(listing "$s"))"
}
MT_INDEX=application/vnd.oci.image.index.v1+json
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
# An image manifest of the store (the fixture's, through its tag).
app_manifest() { sqlite3 "$1/ferry.db" "SELECT digest, size, media_type FROM tags WHERE reference = 'library/app:latest' OR reference LIKE 'library/app:%' LIMIT 1"; }
# start STORE: a new store ($S) and its image manifest's digest, size and type ($d $s $mt).
start() {
	S=$1
	new_store "$S"
	IFS='|' read -r d s mt <<<"$(app_manifest "$S")"
	[ -n "$d" ] || fail "no tag in the fixture store: $(sqlite3 "$S/ferry.db" 'SELECT * FROM tags')"
}
# index_over DIGEST SIZE MEDIATYPE [PADFILE]: an index with one entry, padded.
index_over() {
	jq -cn --arg d "$1" --argjson s "$2" --arg m "$3" --rawfile pad "${4:-/dev/null}" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [{mediaType: $m, digest: $d, size: $s}]} +
		 (if $pad == "" then {} else {annotations: {pad: $pad}} end)' | tr -d '\n'
}

# ---- an index chain 20 deep -------------------------------------------------------------
start "$T/deep"
for i in $(seq 1 20); do
	index_over "$d" "$s" "$mt" >"$T/i$i.json"
	d=$(put_blob "$S" "$T/i$i.json"); s=$(stat -c %s "$T/i$i.json"); mt=$MT_INDEX
done
set_tag "$S" library/deep:v1 "$d" "$MT_INDEX"
garbage "$S"
refused "$S" "tag 'library/deep:v1'" "nests deeper than 8 levels"
ok "an index chain 20 deep stops gc (naming the tag and the document), nothing deleted"

# ---- a 5 MiB index --------------------------------------------------------------------------
start "$T/big"
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' a >"$T/pad"
index_over "$d" "$s" "$mt" "$T/pad" >"$T/big.json"
d=$(put_blob "$S" "$T/big.json")
sqlite3 "$S/ferry.db" "DELETE FROM tags"
set_tag "$S" library/big:v1 "$d" "$MT_INDEX"
garbage "$S"
refused "$S" "tag 'library/big:v1'" "$d is larger than"
ok "a 5 MiB index stops gc (naming the tag and the index), its manifest, config and layers stay"

# ---- a tagged manifest truncated on disk ------------------------------------------------------
start "$T/trunc"
f=$S/blobs/sha256/${d#sha256:}
truncate -s $((s / 2)) "$f"
garbage "$S"
refused "$S" "tag 'library/app" "$d"
ok "a tagged document truncated on disk stops gc, its config and layers stay"

# ---- an empty ferry.db, a database without a trust root ------------------------------------------
S=$T/empty
new_store "$S"
: >"$S/ferry.db"
rm -f "$S/ferry.db-wal" "$S/ferry.db-shm"
refused "$S" "no ferry schema"
[ ! -s "$S/ferry.db" ] || fail "gc wrote into an empty ferry.db ($(stat -c %s "$S/ferry.db") bytes)"
expect_exit 1 "$FERRY" store ls --store "$S"
[ ! -s "$S/ferry.db" ] || fail "store ls wrote into an empty ferry.db"
ok "an empty ferry.db is refused by gc and ls, and stays empty"

S=$T/noroot
new_store "$S"
sqlite3 "$S/ferry.db" "DELETE FROM trust_roots"
garbage "$S"
refused "$S" "no trust root"
ok "a store without a trust root is refused by gc"

# ---- a store that holds only git content --------------------------------------------------------
git init -q -b main "$T/w"
echo hi >"$T/w/README"
git -C "$T/w" add -A && git -C "$T/w" -c user.name=t -c user.email=t@t commit -qm one
git clone -q --bare "$T/w" "$T/repo.git"
printf 'channel: g\nsources:\n  - git: %s\n    name: org/repo\n' "$T/repo.git" >"$T/git.yaml"
mkdir "$T/gb"
expect_exit 0 "$FERRY" export -q --spec "$T/git.yaml" --key "$T/k.key" --out "$T/gb" --state "$T/gstate.db"
S=$T/gitonly
expect_exit 0 "$FERRY" trust init --store "$S" --key "$T/k.pub"
expect_exit 0 "$FERRY" import -q --store "$S" "$T"/gb/*.tar
expect_exit 0 "$FERRY" store gc --store "$S" --json
jq -e '.kept == 0' "$T/out" >/dev/null || fail "git-only gc: $(cat "$T/out")"
git --git-dir="$S/git/org/repo.git" log --oneline main >/dev/null || fail "the repository is damaged after gc"
ok "gc of a store that holds only git content works"

# ---- --dry-run --json lists exactly what the run deletes ----------------------------------------
S=$T/dry
new_store "$S"
for i in 1 2 3; do garbage "$S"; done
expect_exit 0 "$FERRY" store gc --store "$S" --dry-run --json
cp "$T/out" "$T/dry.json"
jq -r '.digests[] | sub("sha256:"; "")' "$T/dry.json" | sort >"$T/dry.list"
[ "$(wc -l <"$T/dry.list")" = "$(jq .removed "$T/dry.json")" ] || fail "dry run: count and list disagree: $(cat "$T/dry.json")"
[ "$(wc -l <"$T/dry.list")" = 3 ] || fail "dry run lists: $(cat "$T/dry.json")"
before=$(listing "$S")
expect_exit 0 "$FERRY" store gc --store "$S" --json
comm -23 <(echo "$before") <(listing "$S") >"$T/gone.list"
cmp -s "$T/dry.list" "$T/gone.list" || fail "dry run listed $(cat "$T/dry.list"), the run deleted $(cat "$T/gone.list")"
jq -r '.digests[] | sub("sha256:"; "")' "$T/out" | sort | cmp -s - "$T/gone.list" || fail "the run's list: $(cat "$T/out")"
ok "--dry-run --json lists exactly the digests the run deletes"
