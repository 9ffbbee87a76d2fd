#!/usr/bin/env bash
# ferry import publishes a verified bundle into the store: the store lists it,
# stock skopeo reads every stored image from the store's OCI layout view,
# importing again is a no-op that says so, volumes import in any order, a
# missing volume is named and changes nothing, verify --store publishes
# nothing, and every outcome is an audit event (also as JSON lines).
. "$(dirname "$0")/../lib/test-lib.sh"
need jq umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/layout" 1500 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: demo\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/spec.yaml"
mkdir "$T/bundles" "$T/vols"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db"
B=$T/bundles/ferry-demo-000001.tar
S=$T/store

expect_exit 1 "$FERRY" import --store "$S" "$B"
expect_err "is not a ferry store (create one with 'ferry trust init --store"
[ ! -e "$S" ] || fail "import created a store"
ok "importing into a store that does not exist creates nothing and says how to make one"

expect_exit 0 "$FERRY" trust init --store "$S" --key "$T/k.pub"
expect_out "trust root version 1"

expect_exit 1 "$FERRY" verify --store "$T/nostore" "$B"
expect_err "is not a ferry store"
[ ! -e "$T/nostore" ] || fail "verify --store created a store"
expect_exit 0 "$FERRY" verify --store "$S" "$B"
expect_out "verified: channel demo sequence 1"
[ "$(ls "$S/blobs/sha256" | wc -l)" = 0 ] || fail "verify --store published blobs"
ok "verify --store runs the import's checks and publishes nothing"

expect_exit 0 "$FERRY" import --store "$S" --audit-log "$T/audit.jsonl" "$B"
expect_out "imported: channel demo sequence 1"
expect_exit 0 "$FERRY" store ls --store "$S" --json
[ "$(jq -r '.channels[0].sequence' "$T/out")" = 1 ] || fail "channel sequence not recorded"
for tag in v1 multi chart; do
	want=$(jq -r --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$T/layout/index.json")
	got=$(jq -r --arg r "library/app:$tag" '.images[] | select(.reference == $r) | .digest' "$T/out")
	[ "$got" = "$want" ] || fail "store binds library/app:$tag to '$got', want $want"
	if command -v skopeo >/dev/null; then
		back=sha256:$(skopeo inspect --raw "oci:$S:library/app:$tag" | sha256sum | cut -d' ' -f1)
		[ "$back" = "$want" ] || fail "skopeo reads $back from the store for $tag"
	fi
done
for f in "$S"/blobs/sha256/*; do
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "stored blob $f is corrupt"
done
ok "the store lists every image; skopeo reads them from the store's layout view; blobs hash to their names"

if command -v skopeo >/dev/null; then
	printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
	skopeo --policy "$T/policy.json" copy -q --all "oci:$S:library/app:multi" "oci:$T/copy:multi" ||
		fail "skopeo cannot copy the multi-arch index out of the store"
	ok "skopeo copies the multi-arch index out of the store"
fi

expect_exit 0 "$FERRY" import --store "$S" --json "$B"
[ "$(jq -r '.bundles[0].outcome' "$T/out")" = "already imported" ] || fail "replay is not reported as a no-op"
ok "importing the same bundle again is a no-op that says so"

jq -s -e 'map(select(.event == "import" and .channel == "demo" and .sequence == 1)) | length == 1' "$T/audit.jsonl" >/dev/null ||
	fail "no import event in the JSON audit log"
ok "the import is an audit event in the JSON lines log"

# Volumes, in any order, on a second channel; one missing changes nothing.
printf 'channel: media\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/media.yaml"
expect_exit 0 "$FERRY" export -q --spec "$T/media.yaml" --key "$T/k.key" --out "$T/vols" --state "$T/state.db" --max-volume-size 1M
mapfile -t V < <(ls "$T"/vols/*.tar)
[ "${#V[@]}" -ge 3 ] || fail "expected at least 3 volumes, got ${#V[@]}"
before=$(ls "$S/blobs/sha256" | sort | sha256sum)
expect_exit 2 "$FERRY" import --store "$S" "${V[0]}" "${V[2]}"
expect_err "volume"
expect_err "missing"
[ "$(ls "$S/blobs/sha256" | sort | sha256sum)" = "$before" ] || fail "a failed import changed the blobs"
expect_exit 0 "$FERRY" store ls --store "$S" --json
[ "$(jq -r '.channels | map(select(.channel == "media")) | length' "$T/out")" = 0 ] || fail "a failed import recorded the channel"
ok "a missing volume is named and nothing is published"
mapfile -t R < <(printf '%s\n' "${V[@]}" | sort -r)
expect_exit 0 "$FERRY" import --store "$S" "${R[@]}"
expect_out "imported: channel media sequence 1"
ok "volumes given in reverse order import"

expect_exit 0 "$FERRY" import --help
expect_out "usage: ferry import"
expect_exit 64 "$FERRY" import --store "$S"
ok "help and usage"
