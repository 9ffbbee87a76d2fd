#!/usr/bin/env bash
# ferry store gc deletes the blobs no tag reaches and nothing else: after a
# tag moves to a new image, the old image's manifest, config and layers go,
# the new image stays complete (skopeo copies it from the store), --dry-run
# deletes nothing, a second gc finds nothing, and what a multi-arch index
# reaches through its child manifests is kept.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq skopeo sha256sum umoci
. "$SRC/tests/lib/oci-fixture.sh"

make_big_oci_layout "$T/one" 1 >/dev/null
make_big_oci_layout "$T/two" 1 >/dev/null
make_oci_layout "$T/multi" 1500 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
"$FERRY" keygen -o "$T/k" >/dev/null
mkdir "$T/bundles"
ship() { # LAYOUT: export it as library/app (and the multi-arch layout as library/multi)
	printf 'channel: c\nsources:\n  - oci-layout: %s\n    name: library/app\n  - oci-layout: %s\n    name: library/multi\n' \
		"$1" "$T/multi" >"$T/spec.yaml"
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db" >/dev/null ||
		fail "export"
	"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)" || fail "import"
}
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
ship "$T/one"
ship "$T/two"
old=$(ls "$T/one/blobs/sha256" | sort)
new=$(ls "$T/two/blobs/sha256" "$T/multi/blobs/sha256" | grep -v : | grep . | sort -u)
held() { ls "$T/store/blobs/sha256" | sort; }
[ -z "$(comm -13 <(held) <(echo "$old"))" ] || fail "the old image is not in the store before gc"
before=$(held | wc -l)

expect_exit 0 "$FERRY" store gc --store "$T/store" --dry-run --json
jq -e --argjson n "$(echo "$old" | wc -l)" '.removed == $n and .dryRun' "$T/out" >/dev/null || fail "dry run: $(cat "$T/out")"
[ "$(held | wc -l)" = "$before" ] || fail "--dry-run deleted blobs"
ok "--dry-run counts the old image's $(echo "$old" | wc -l) blobs and deletes nothing"

expect_exit 0 "$FERRY" store gc --store "$T/store" --json
jq -e --argjson n "$(echo "$old" | wc -l)" '.removed == $n and (.dryRun | not)' "$T/out" >/dev/null || fail "gc: $(cat "$T/out")"
[ -z "$(comm -12 <(held) <(echo "$old"))" ] || fail "gc kept blobs of the old image: $(comm -12 <(held) <(echo "$old"))"
[ -z "$(comm -13 <(held) <(echo "$new"))" ] || fail "gc deleted live blobs: $(comm -13 <(held) <(echo "$new"))"
[ "$(sqlite3 "$T/store/ferry.db" 'SELECT count(*) FROM blobs')" = "$(held | wc -l)" ] ||
	fail "the blobs table and the directory disagree after gc"
n=0
for ref in library/app:big library/multi:multi; do
	n=$((n + 1))
	skopeo copy -q --all "oci:$T/store:$ref" "oci:$T/copy$n:x" >/dev/null 2>"$T/err" ||
		{ cat "$T/err" >&2; fail "skopeo cannot copy $ref from the store after gc"; }
done
ok "gc deletes exactly the unreachable blobs; the multi-arch index and the new image stay complete"

expect_exit 0 "$FERRY" store gc --store "$T/store" --json
jq -e '.removed == 0' "$T/out" >/dev/null || fail "a second gc removed: $(cat "$T/out")"
ok "a second gc finds nothing"
