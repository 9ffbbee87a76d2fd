#!/usr/bin/env bash
# ferry store fsck finds every fault of a matrix injected into one store,
# each in its --json report with what refers to it: a flipped byte in a
# layer, a truncated manifest, a missing blob, a ferry.db row without its
# file, a file without its row, a lost git pack and a moved ref (then a
# grown blob, a pruned commit and a flipped byte in a git pack). It changes
# nothing without --repair-from; a bundle signed by an unknown key is
# refused (exit 2) and used for nothing; the bundle that brought the
# content repairs every fault, and fsck is clean after.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq git sqlite3 sha256sum umoci
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/lay" 64 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
for r in one two; do
	git init -q -b main "$T/w$r"
	for i in 1 2; do
		echo "$r $i" >"$T/w$r/f$i"
		git -C "$T/w$r" add -A
		git -C "$T/w$r" -c user.email=t@example.org -c user.name=t commit -qm "$r $i"
	done
	git clone -q --bare "$T/w$r" "$T/$r.git"
done
printf 'channel: c\nsources:\n  - oci-layout: %s\n    name: library/app\n  - git: %s\n    name: org/one\n  - git: %s\n    name: org/two\n' \
	"$T/lay" "$T/one.git" "$T/two.git" >"$T/spec.yaml"
"$FERRY" keygen -o "$T/k" >/dev/null
"$FERRY" keygen -o "$T/other" >/dev/null
mkdir "$T/bundles" "$T/forged"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db" >/dev/null ||
	fail export
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/other.key" --out "$T/forged" --state "$T/state2.db" >/dev/null ||
	fail export
B=$(ls "$T"/bundles/*.tar)
S=$T/store
"$FERRY" trust init --store "$S" --key "$T/k.pub" >/dev/null
"$FERRY" import -q --store "$S" "$B" || fail import

expect_exit 0 "$FERRY" store fsck --store "$S" --json
jq -e '.clean and (.faults | length) == 0 and .checked.tags == 3 and .checked.repositories == 2 and
	.checked.refs == 2 and .checked.blobs > 0 and .checked.gitObjects > 0' "$T/out" >/dev/null ||
	fail "a fresh store: $(cat "$T/out")"
expect_exit 0 "$FERRY" store fsck --store "$S"
expect_out ": clean"
ok "a freshly imported store is clean"

# ---- the fault matrix ---------------------------------------------------------
H=$S/blobs/sha256
tag() { sqlite3 "$S/ferry.db" "SELECT substr(digest, 8) FROM tags WHERE reference = 'library/app:$1'"; }
v1=$(tag v1) chart=$(tag chart) multi=$(tag multi)
layer=$(jq -r '.layers[1].digest[7:]' "$H/$v1")
v1cfg=$(jq -r '.config.digest[7:]' "$H/$v1")
arm=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest[7:]' "$H/$multi")
armcfg=$(jq -r '.config.digest[7:]' "$H/$arm")
gitb=$(grep -l '^# v[23] git bundle' "$H"/* | sed -n '1s|.*/||p')
[ -n "$layer" ] && [ -n "$armcfg" ] && [ -n "$gitb" ] || fail "fixture digests not found"
one_main=$(git --git-dir="$S/git/org/one.git" rev-parse refs/heads/main)
two_main=$(git --git-dir="$S/git/org/two.git" rev-parse refs/heads/main)

flip_byte "$H/$layer" 100                                  # a flipped byte in a layer
truncate -s 50 "$H/$chart"                                 # a truncated manifest
rm "$H/$armcfg"                                            # a missing blob (and its row)
sqlite3 "$S/ferry.db" "DELETE FROM blobs WHERE digest = '$armcfg'"
rm "$H/$gitb"                                              # a row without its file
sqlite3 "$S/ferry.db" "DELETE FROM blobs WHERE digest = '$v1cfg'"   # a file without its row
rm "$S"/git/org/one.git/objects/pack/*                     # a lost git pack
git --git-dir="$S/git/org/two.git" update-ref refs/heads/main refs/heads/main~1   # a moved ref
snapshot() { (cd "$S" && find blobs git -type f -print0 | sort -z | xargs -0 sha256sum; sqlite3 ferry.db .dump); }
snapshot >"$T/before"

expect_exit 1 "$FERRY" store fsck --store "$S" --json
cp "$T/out" "$T/report.json"
has() { # JQ-FILTER WHAT
	jq -e "[.faults[] | select($1)] | length == 1" "$T/report.json" >/dev/null ||
		fail "fsck did not report $2: $(jq -c .faults "$T/report.json")"
}
has ".kind == \"damaged\" and .object == \"blob\" and .id == \"$layer\" and
	(.referencedBy | index(\"tag 'library/app:v1' (layer)\")) and
	(.referencedBy | index(\"tag 'library/app:multi' (layer)\"))" "the flipped layer, with both tags"
has ".kind == \"damaged\" and .object == \"blob\" and .id == \"$chart\" and
	.referencedBy == [\"tag 'library/app:chart'\"]" "the truncated manifest, with its tag"
has ".kind == \"missing\" and .object == \"blob\" and .id == \"$armcfg\" and
	.referencedBy == [\"tag 'library/app:multi' (config)\"]" "the missing config, with its tag"
has ".kind == \"missing\" and .object == \"blob\" and .id == \"$gitb\" and
	.referencedBy == [\"ferry.db\"]" "the row without its file"
has ".kind == \"unrecorded\" and .object == \"blob\" and .id == \"$v1cfg\"" "the file without its row"
has ".kind == \"missing\" and .object == \"git-object\" and .repository == \"org/one\" and
	.id == \"$one_main\" and .referencedBy == [\"ref 'refs/heads/main'\"]" "the lost pack (its ref's commit)"
has ".kind == \"damaged\" and .object == \"ref\" and .repository == \"org/two\" and
	.id == \"refs/heads/main\" and (.detail | contains(\"$two_main\"))" "the moved ref"
jq -e '(.clean | not) and (.faults | length) == 7' "$T/report.json" >/dev/null ||
	fail "fsck reported other faults: $(jq -c .faults "$T/report.json")"
expect_exit 1 "$FERRY" store fsck --store "$S"
expect_out "7 fault(s)"
expect_out "referenced by tag 'library/app:chart'"
snapshot | cmp -s - "$T/before" || fail "fsck without --repair-from changed the store"
ok "fsck reports each fault of the matrix with what refers to it, exit 1, and changes nothing"

expect_exit 2 "$FERRY" store fsck --store "$S" --repair-from "$(ls "$T"/forged/*.tar)" --json
snapshot | cmp -s - "$T/before" || fail "a bundle that failed verification was used for repair"
ok "a bundle signed by a key the trust root does not list repairs nothing (exit 2)"

# ---- repair ---------------------------------------------------------------------
expect_exit 0 "$FERRY" store fsck --store "$S" --repair-from "$B" --json
jq -e '.clean and (.faults | length) == 0 and (.repaired | length) == 7 and
	.restored.blobs == 4 and .restored.records == 1 and .restored.repositories == 1 and
	.restored.refs == 1' "$T/out" >/dev/null || fail "repair: $(cat "$T/out")"
for h in "$layer" "$chart" "$armcfg" "$gitb" "$v1cfg"; do
	[ "$(sha256sum <"$H/$h" | cut -d' ' -f1)" = "$h" ] || fail "blob $h is not whole after repair"
done
[ "$(sqlite3 "$S/ferry.db" "SELECT count(*) FROM blobs WHERE digest IN ('$armcfg', '$gitb', '$v1cfg')")" = 3 ] ||
	fail "blob rows not restored"
[ "$(git --git-dir="$S/git/org/one.git" rev-parse refs/heads/main)" = "$one_main" ] || fail "org/one main moved"
[ "$(git --git-dir="$S/git/org/two.git" rev-parse refs/heads/main)" = "$two_main" ] || fail "org/two main not reset"
for r in one two; do
	git --git-dir="$S/git/org/$r.git" fsck --no-progress 2>"$T/err" || { cat "$T/err" >&2; fail "git fsck org/$r"; }
done
[ -z "$(ls -A "$S/staging")" ] || fail "repair left files in staging: $(ls -A "$S/staging")"
expect_exit 0 "$FERRY" store fsck --store "$S" --json
jq -e '.clean' "$T/out" >/dev/null || fail "not clean after repair: $(cat "$T/out")"
ok "--repair-from the bundle restores every fault; the store is clean and git fsck passes"

# ---- a wrong size is damage; a pruned commit is missing history; a damaged pack ----
printf 'x' >>"$H/$layer"
git --git-dir="$S/git/org/two.git" update-ref refs/heads/main refs/heads/main~1
git --git-dir="$S/git/org/two.git" -c gc.reflogExpire=now -c gc.reflogExpireUnreachable=now gc -q --prune=now
pack=$(ls "$S"/git/org/one.git/objects/pack/*.pack)
chmod u+w "$pack"
flip_byte "$pack" 200                                      # a flipped byte in a git pack
expect_exit 1 "$FERRY" store fsck --store "$S" --json
jq -e '[.faults[] | select(.object == "git-object" and .repository == "org/one" and .kind == "damaged")] |
	length >= 1' "$T/out" >/dev/null || fail "a damaged git pack is not reported: $(cat "$T/out")"
jq -e --arg h "$layer" '[.faults[] | select(.kind == "damaged" and .id == $h)] | length == 1' "$T/out" >/dev/null ||
	fail "a grown layer is not reported: $(cat "$T/out")"
jq -e --arg c "$two_main" '[.faults[] | select(.object == "git-object" and .repository == "org/two" and
	.id == $c and .kind == "missing")] | length == 1' "$T/out" >/dev/null ||
	fail "a pruned commit is not reported: $(cat "$T/out")"
expect_exit 0 "$FERRY" store fsck --store "$S" --repair-from "$B" --json
jq -e '.clean and .restored.blobs == 1 and .restored.repositories == 2 and .restored.refs == 1' "$T/out" \
	>/dev/null || fail "repair: $(cat "$T/out")"
git --git-dir="$S/git/org/one.git" fsck --no-progress 2>"$T/err" || { cat "$T/err" >&2; fail "git fsck org/one"; }
[ "$(git --git-dir="$S/git/org/two.git" rev-parse refs/heads/main)" = "$two_main" ] || fail "org/two main not reset"
ok "a blob of the wrong size, a pruned commit and a damaged git pack are found and repaired"

# ---- import --verify-held replaces a rotted layer that a later bundle brings -------
S2=$T/store2
"$FERRY" trust init --store "$S2" --key "$T/k.pub" >/dev/null
"$FERRY" import -q --store "$S2" "$B" || fail "import into the second store"
"$FERRY" export -q --full --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db" >/dev/null ||
	fail "export --full"
B2=$(ls "$T"/bundles/*.tar | sort | tail -n 1)
[ "$B2" != "$B" ] || fail "no second bundle"
flip_byte "$S2/blobs/sha256/$layer" 200
cp -a "$S2" "$T/store3"
expect_exit 0 "$FERRY" import --no-seed --json --store "$T/store3" "$B2"
jq -e '.bundles[0].blobsRepaired == 0 and .bundles[0].blobsNew == 0' "$T/out" >/dev/null ||
	fail "import without --verify-held: $(cat "$T/out")"
expect_exit 1 "$FERRY" store fsck --store "$T/store3" --json
jq -e --arg h "$layer" '[.faults[] | select(.kind == "damaged" and .id == $h)] | length == 1' "$T/out" >/dev/null ||
	fail "the rotted layer is not damaged: $(cat "$T/out")"
ok "without --verify-held an import leaves a rotted layer it brings as it was (fsck reports it)"

expect_exit 0 "$FERRY" import --no-seed --verify-held --json --store "$S2" "$B2"
jq -e '.bundles[0].blobsRepaired == 1 and .bundles[0].blobsNew == 0 and .bundles[0].blobsPresent > 0' "$T/out" \
	>/dev/null || fail "import --verify-held: $(cat "$T/out")"
expect_err "blob $layer is damaged"
[ "$(sha256sum <"$S2/blobs/sha256/$layer" | cut -d' ' -f1)" = "$layer" ] || fail "the layer is still damaged"
expect_exit 0 "$FERRY" store fsck --store "$S2" --json
jq -e '.clean' "$T/out" >/dev/null || fail "not clean after import --verify-held: $(cat "$T/out")"
ok "import --verify-held rehashes the held layer and replaces it with the bundle's copy; fsck is clean"
