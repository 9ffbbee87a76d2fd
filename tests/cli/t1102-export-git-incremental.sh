#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Incremental git export on one channel, from a git daemon on 127.0.0.1.
# A "store" (a mirror made from the first bundle, as a receiver holds it)
# takes each later bundle with stock git: git bundle verify passes, and a
# fetch from the bundle gives exactly the tips the manifest binds. Covers:
# one new commit (thin pack, prerequisites = the tips sent before), a
# force-push (ref marked forced; the bundle still applies to a store that
# holds the previous tips), a deleted branch (listed in deleted), nothing
# changed (the repository is listed without a bundle), --since-sequence N
# (re-based on an older bundle, applies to a store that stopped at N), and
# --full.
need git jq tar python3
. "$SRC/tests/lib/git-server.sh"
git_test_env

R=$T/repos
W=$T/work
mkdir -p "$R"
git init -q "$W"
mkdir -p "$W/overlays/prod"
for i in $(seq 1 30); do
	printf 'image: app:%s\nreplicas: 2\n' "$i" >"$W/overlays/prod/values.yaml"
	seq 1 200 | sed "s/^/line /" >"$W/overlays/prod/big-$((i % 3)).txt"
	echo "$i" >>"$W/overlays/prod/big-$((i % 3)).txt"
	git -C "$W" add -A && git -C "$W" commit -qm "change $i"
done
git -C "$W" tag -a v1 -m v1
git -C "$W" branch feature HEAD~3
git init -q --bare "$R/app.git"
git -C "$W" push -q "$R/app.git" main feature v1
git_daemon_start "$R"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir -p "$T/bundles"
printf 'channel: site\nsources:\n  - git: %s/app.git\n' "$GIT_DAEMON_URL" >"$T/spec.yaml"
export_seq() {   # export_seq SEQ [OPTION...]: export, extract, inspect
	local seq=$1
	shift
	expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache" "$@"
	B=$T/bundles/ferry-site-$(printf %06d "$seq").tar
	I=$T/inspect-$seq.json
	"$FERRY" inspect --json "$B" >"$I"
	X=$T/x-$seq
	mkdir -p "$X"
	tar -xf "$B" -C "$X"
	GB=
	if [ "$(jq -r '.repositories[0].bundle // empty' "$I")" ]; then
		GB=$X/blobs/sha256/$(jq -r '.repositories[0].bundle | sub("sha256:"; "")' "$I")
	fi
}
# apply STORE: verify and fetch the current bundle, drop deleted refs, and
# check that every ref equals the manifest
apply() {
	local store=$1 ref
	if [ -n "$GB" ]; then
		expect_exit 0 git -C "$store" bundle verify "$GB"
		expect_exit 0 git -C "$store" fetch -q "$GB" '+refs/*:refs/*'
	fi
	for ref in $(jq -r '.repositories[0].deleted[]' "$I"); do
		git -C "$store" update-ref -d "$ref"
	done
	jq -r '.repositories[0].refs[] | "\(.commit) \(.name)"' "$I" | sort >"$T/want"
	git -C "$store" for-each-ref --format='%(objectname) %(refname)' | sort >"$T/have"
	cmp -s "$T/want" "$T/have" || { diff "$T/want" "$T/have" >&2; fail "store refs differ from the manifest"; }
	expect_exit 0 git -C "$store" fsck --strict --no-progress
}
server_ref() { git -C "$R/app.git" rev-parse "$1"; }

# ---- 1: full -----------------------------------------------------------------------
export_seq 1
[ "$(jq -r .baseSequence "$I")" = 0 ] || fail "first bundle is not full"
git clone -q --mirror "$GB" "$T/store"
apply "$T/store"
cp -a "$T/store" "$T/store-at-1"
full_size=$(stat -c %s "$GB")
ok "sequence 1: full bundle, cloned into the store"

# ---- 2: one small commit -> thin pack on the previous tips --------------------------
sed -i 's/replicas: 2/replicas: 3/' "$W/overlays/prod/values.yaml"
git -C "$W" commit -qam "scale up"
git -C "$W" push -q "$R/app.git" main
export_seq 2
[ "$(jq -r .baseSequence "$I")" = 1 ] || fail "sequence 2 does not build on 1"
git -C "$T/store-at-1" rev-parse "$(jq -r '.repositories[0].prerequisites[0]' "$I")" >/dev/null 2>&1 ||
	fail "a prerequisite is not a commit the store holds"
head -c 200 "$GB" | grep -q "^-$(server_ref main~1)" || fail "the previous main tip is not a prerequisite line"
inc_size=$(stat -c %s "$GB")
[ "$inc_size" -lt 2000 ] || fail "incremental git bundle is $inc_size bytes (full: $full_size)"
[ "$(jq -r '.repositories[0].refs[] | select(.name == "refs/heads/main") | .forced' "$I")" = false ] ||
	fail "a fast-forward is marked forced"
apply "$T/store"
[ "$(git -C "$T/store" rev-parse main)" = "$(server_ref main)" ] || fail "store main != server main"
cp -a "$T/store" "$T/store-at-2"
ok "sequence 2: one commit costs $inc_size bytes (full: $full_size); verifies and applies on the store"

# ---- 3: force-push ----------------------------------------------------------------------
old=$(server_ref main)
git -C "$W" reset -q --hard HEAD~2
echo rewritten >"$W/overlays/prod/NOTE"
git -C "$W" add -A && git -C "$W" commit -qm "rewritten history"
git -C "$W" push -q -f "$R/app.git" main
export_seq 3
[ "$(jq -r '.repositories[0].refs[] | select(.name == "refs/heads/main") | .forced' "$I")" = true ] ||
	fail "a force-pushed main is not marked forced"
[ "$(jq -r '.repositories[0].refs[] | select(.name == "refs/heads/feature") | .forced' "$I")" = false ] ||
	fail "an unchanged branch is marked forced"
jq -r '.repositories[0].prerequisites[]' "$I" | grep -qx "$old" || fail "the old main tip is not a prerequisite"
"$FERRY" inspect "$B" | grep -q "refs/heads/main (forced)" || fail "inspect does not mark the forced ref"
apply "$T/store"
[ "$(git -C "$T/store" rev-parse main)" = "$(server_ref main)" ] || fail "force-push not applied"
ok "sequence 3: force-push marked forced (inspect too); applies on a store holding the previous tips"

# ---- 4: deleted branch ----------------------------------------------------------------------
git -C "$R/app.git" branch -D feature >/dev/null
export_seq 4
[ "$(jq -c '.repositories[0].deleted' "$I")" = '["refs/heads/feature"]' ] || fail "deleted: $(jq -c '.repositories[0].deleted' "$I")"
jq -r '.repositories[0].refs[].name' "$I" | grep -qx refs/heads/feature && fail "a deleted ref is still listed"
[ -z "$GB" ] || fail "a deletion alone carries a git bundle"
"$FERRY" inspect "$B" | grep -q "refs/heads/feature (deleted)" || fail "inspect does not show the deletion"
apply "$T/store"
ok "sequence 4: deleted branch listed under deleted, no pack needed; store drops it"

# ---- 5: nothing changed ---------------------------------------------------------------------
export_seq 5
[ "$(jq -r '.repositories | length' "$I")" = 1 ] || fail "an unchanged repository is not listed"
[ -z "$GB" ] || fail "an unchanged repository carries a bundle"
[ "$(jq -r '.repositories[0].deleted | length' "$I")" = 0 ] || fail "deletions repeated"
apply "$T/store"
ok "sequence 5: unchanged repository listed with its refs and no bundle"

# ---- 6: --since-sequence 2 (bundles 3-5 lost) -------------------------------------------
echo more >>"$W/overlays/prod/NOTE"
git -C "$W" commit -qam "after the loss"
git -C "$W" push -q "$R/app.git" main
export_seq 6 --since-sequence 2
[ "$(jq -r .baseSequence "$I")" = 2 ] || fail "--since-sequence 2: baseSequence $(jq -r .baseSequence "$I")"
jq -r '.repositories[0].prerequisites[]' "$I" | grep -qx "$old" || fail "not re-based on sequence 2's tips"
[ "$(jq -c '.repositories[0].deleted' "$I")" = '["refs/heads/feature"]' ] || fail "deletion since 2 not listed"
apply "$T/store-at-2"
[ "$(git -C "$T/store-at-2" rev-parse main)" = "$(server_ref main)" ] || fail "store at 2 did not catch up"
ok "sequence 6 --since-sequence 2: applies on a store that stopped at sequence 2"
expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache" --since-sequence 99
expect_err "channel 'site' has no bundle 99 yet (its last is 6)"
expect_exit 64 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache" --since-sequence 2 --full
ok "--since-sequence beyond the last sequence, or with --full: refused"

# ---- 7: --full --------------------------------------------------------------------------
export_seq 7 --full
[ "$(jq -r .baseSequence "$I")" = 0 ] || fail "--full gave an incremental bundle"
[ "$(jq -r '.repositories[0].prerequisites | length' "$I")" = 0 ] || fail "--full has prerequisites"
git clone -q --mirror "$GB" "$T/fresh"
expect_exit 0 git -C "$T/fresh" fsck --strict --no-progress
[ "$(git -C "$T/fresh" rev-parse main)" = "$(server_ref main)" ] || fail "--full clone main"
ok "sequence 7 --full: a complete bundle that clones on its own"

# the cache is reused: a second cache directory is not needed, and the
# mirror holds the force-pushed commit (still a prerequisite source)
[ "$(ls "$T/cache/git" | wc -l)" = 1 ] || fail "one mirror per source URL: $(ls "$T/cache/git")"
git -C "$T/cache/git/"*.git cat-file -e "$old" || fail "the cache dropped the old tip"
ok "one bare mirror per source in the cache, updated in place"
