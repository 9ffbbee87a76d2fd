#!/usr/bin/env bash
# A store made by ferry 0.1.0 (schema version 1, tests/resources/store-v1)
# opens with this ferry and upgrades in place: everything it held reads
# back the same (channel and sequence, tags and digests, git refs, trust
# root, seed target, reconcile history), the upgrade is recorded in
# user_version, a reader that cannot write leaves it alone, a receipt of
# it re-bases the exporter and the next bundle imports on top, gc keeps
# everything live, and a
# store of a newer schema is refused without being touched.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq sqlite3 skopeo sha256sum umoci
. "$SRC/tests/lib/oci-fixture.sh"

FX=$SRC/tests/resources/store-v1
S=$T/store
tar -C "$T" -xzf "$FX/store.tar.gz"
version() { sqlite3 "$S/ferry.db" 'PRAGMA user_version'; }
[ "$(version)" = 1 ] || fail "the fixture is not a version 1 store: $(version)"

# ---- a reader without write access leaves the file as it was ------------------
cp -a "$S" "$T/ro"
chmod -R a-w "$T/ro"
if [ "$(id -u)" != 0 ]; then
	expect_exit 1 "$FERRY" store ls --store "$T/ro"
	[ "$(sqlite3 "$T/ro/ferry.db" 'PRAGMA user_version')" = 1 ] || fail "a read-only store changed"
	ok "a store the reader cannot write is not upgraded behind its back"
fi
chmod -R u+w "$T/ro"

# ---- open, upgrade, read back -------------------------------------------------
expect_exit 0 "$FERRY" store ls --json --store "$S"
cp "$T/out" "$T/ls.json"
[ "$(version)" = 5 ] || fail "opening did not upgrade the store: user_version $(version)"
sqlite3 "$S/ferry.db" "SELECT name FROM sqlite_master WHERE type = 'index'" >"$T/indexes"
for i in imports_bundle imports_channel refs_commit; do
	grep -qx "$i" "$T/indexes" || fail "upgrade did not create index $i: $(cat "$T/indexes")"
done
sqlite3 "$S/ferry.db" "SELECT name FROM sqlite_master WHERE type = 'table'" >"$T/tables"
for t in reconcile_suspended reconcile_event_reasons channel_images; do
	grep -qx "$t" "$T/tables" || fail "upgrade did not create table $t: $(cat "$T/tables")"
done
# The channel's state starts from its tags: every bundle of format 1 bound
# every image of its channel.
[ "$(sqlite3 "$S/ferry.db" "SELECT channel, reference, digest FROM channel_images ORDER BY 2")" = \
  "$(sqlite3 "$S/ferry.db" "SELECT channel, reference, digest FROM tags ORDER BY 2")" ] ||
	fail "the channel's bindings do not start from its tags"
[ -n "$(sqlite3 "$S/ferry.db" "SELECT 1 FROM channel_images LIMIT 1")" ] || fail "no channel bindings"
ok "opening a version 1 store upgrades it to the latest version, 5 (user_version, new indexes and tables; the channel's bindings from its tags)"

jq -e '.channels[] | select(.channel == "fixture" and .sequence == 1)' "$T/ls.json" >/dev/null ||
	fail "channel fixture/1 lost: $(cat "$T/ls.json")"
for tag in v1 multi chart; do
	d=$(jq -r ".images[] | select(.reference == \"library/app:$tag\") | .digest" "$T/ls.json")
	[ "$d" = "sha256:$(sha256sum <"$S/blobs/sha256/${d#sha256:}" | cut -d' ' -f1)" ] ||
		fail "tag library/app:$tag lost or wrong: '$d'"
done
main=$(jq -r '.repositories[] | select(.repository == "deploy" and .ref == "refs/heads/main") | .commit' "$T/ls.json")
[ "$main" = "$(git --git-dir="$S/git/deploy.git" rev-parse refs/heads/main)" ] ||
	fail "ref deploy main lost: '$main'"
ok "channel, tags with their digests and git refs read back after the upgrade"

expect_exit 0 "$FERRY" trust show --json --store "$S"
[ "$(jq -r '.version, .threshold, (.keys | length)' "$T/out" | tr '\n' ' ')" = "1 1 1 " ] ||
	fail "trust root: $(cat "$T/out")"
expect_exit 0 "$FERRY" target show reg --json --store "$S"
[ "$(jq -r '.kind, .url, .credentials' "$T/out" | tr '\n' ' ')" = "oci http://127.0.0.1:1 true " ] ||
	fail "seed target: $(cat "$T/out")"
[ "$(sqlite3 "$S/ferry.db" "SELECT state FROM seed_progress WHERE target = 'reg'")" = done ] ||
	fail "seed progress lost"
printf 'store: %s\nkubernetes: {dry-run: true}\nstacks:\n  - {name: web, source: {git: deploy, branch: main, path: app}, runtime: kubernetes}\n' \
	"$S" >"$T/r.yaml"
expect_exit 0 "$FERRY" reconcile --config "$T/r.yaml" history web --json
[ "$(jq -r '.[0] | .outcome, .channel, .sequence, .revision' "$T/out" | tr '\n' ' ')" = "applied fixture 1 $main " ] ||
	fail "reconcile history: $(cat "$T/out")"
ok "trust root, seed target and progress, reconcile history read back"

# ---- the next bundle of the channel imports on top ----------------------------
# The exporter's state of the same release opens too; it re-bases on a
# receipt the upgraded store signs, so the bundle is sequence 2 and
# carries only what the store lacks.
"$FERRY" keygen -o "$T/enclave" >/dev/null
expect_exit 0 "$FERRY" receipt --store "$S" --key "$T/enclave.key" -o "$T/receipt"
make_oci_layout "$T/layout" 8 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
printf 'channel: fixture\nsources:\n  - oci-layout: %s\n    name: library/next\n' "$T/layout" >"$T/spec.yaml"
mkdir "$T/bundles"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$FX/k.key" --out "$T/bundles" \
	--state "$T/export-state.db" --baseline "$T/receipt" --baseline-key "$T/enclave.pub"
[ -f "$T/bundles/ferry-fixture-000002.tar" ] || fail "the re-based bundle is not sequence 2: $(ls "$T/bundles")"
expect_exit 0 "$FERRY" import -q --no-seed --store "$S" "$T/bundles/ferry-fixture-000002.tar"
expect_exit 0 "$FERRY" store ls --json --store "$S"
jq -e '.channels[] | select(.channel == "fixture" and .sequence == 2)' "$T/out" >/dev/null ||
	fail "the channel did not advance to 2: $(cat "$T/out")"
jq -e '.images[] | select(.reference == "library/next:v1")' "$T/out" >/dev/null ||
	fail "the new bundle's image is missing: $(cat "$T/out")"
ok "a receipt of the upgraded store re-bases the exporter; its bundle 2 imports on top"

# ---- gc keeps everything a tag or ref reaches ---------------------------------
expect_exit 0 "$FERRY" store gc --store "$S"
for ref in library/app:v1 library/app:multi library/app:chart library/next:v1; do
	skopeo copy --all -q "oci:$S:$ref" "oci:$T/copy:$ref" 2>"$T/err" ||
		{ cat "$T/err" >&2; fail "$ref is not complete in the store after gc"; }
done
[ "$(git --git-dir="$S/git/deploy.git" rev-parse refs/tags/v1)" = "$main" ] || fail "git ref lost after gc"
git --git-dir="$S/git/deploy.git" fsck --no-progress 2>"$T/err" || { cat "$T/err" >&2; fail "git fsck after gc"; }
ok "after gc every image and chart copies out whole and the git repository is sound"

# ---- a store of a newer ferry is refused, untouched ---------------------------
sqlite3 "$T/ro/ferry.db" 'PRAGMA user_version = 99'
before=$(sha256sum "$T/ro/ferry.db")
expect_exit 1 "$FERRY" store ls --store "$T/ro"
expect_err "newer"
[ "$(sha256sum "$T/ro/ferry.db")" = "$before" ] || fail "a newer store was written to"
[ ! -e "$T/ro/lock" ] || fail "a newer store got a lock file"
ok "a store of a newer schema is refused and left as it was"
