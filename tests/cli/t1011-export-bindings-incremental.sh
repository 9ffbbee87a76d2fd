#!/usr/bin/env bash
# Incremental bundles carry only the image bindings that changed
# (docs/bundle-format.md, section 6.3). A layout of 40 tiny images is
# exported and imported; then one image changes: the next bundle binds only
# that one, carries only its three blobs and states the channel's whole
# state, which the store checks before publishing. An image dropped from
# the layout is a removed reference. A store whose bindings are not the
# base the sender assumed refuses the bundle and stays as it was; --full
# and an export state from before bindings were recorded carry them all.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq sqlite3 python3

IMAGES=$SRC/tests/lib/many-images.py
"$FERRY" keygen -o "$T/k" >/dev/null
mkdir "$T/bundles"
printf 'channel: many\nsources:\n  - oci-layout: %s\n    name: library/x\n' "$T/layout" >"$T/spec.yaml"
# layout N [CHANGED...]: the source layout, made afresh
layout() { rm -rf "$T/layout" && python3 "$IMAGES" "$T/layout" "$@" || fail "layout $*"; }
ex() { expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" \
	--out "$T/bundles" --state "$T/state.db" "$@"; }
bundle() { printf '%s/bundles/ferry-many-%06d.tar' "$T" "$1"; }
inspect() { "$FERRY" inspect --json "$(bundle "$1")" >"$T/i$1.json" || fail "inspect $1"; }
blobs() { jq -r '.members[].path | select(startswith("blobs/"))' "$T/i$1.json" | wc -l; }
imp() { expect_exit "$1" "$FERRY" import --no-seed --store "$2" "$(bundle "$3")"; }
tag() { "$FERRY" store ls --store "$1" --json | jq -r ".images[] | select(.reference == \"$2\") | .digest"; }
bindings() { sqlite3 "$1/ferry.db" "SELECT reference || ' ' || digest FROM channel_images WHERE channel = 'many' ORDER BY 1"; }
digest_of() { jq -r ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \"$1\") | .digest" "$T/layout/index.json"; }

"$FERRY" trust init --store "$T/s" --key "$T/k.pub" >/dev/null || fail "trust init"
layout 40
ex
inspect 1
[ "$(jq -r '.formatVersion, .bindings, (.images | length), .state.images' "$T/i1.json" | tr '\n' ' ')" = "2 all 40 40 " ] ||
	fail "bundle 1: $(jq -c '{formatVersion, bindings, state}' "$T/i1.json")"
# `ferry --version` names the format this build writes
[ "$("$FERRY" --version)" = "ferry $("$FERRY" --version | cut -d' ' -f2) (bundle format $(jq -r .formatVersion "$T/i1.json"))" ] ||
	fail "ferry --version does not name format $(jq -r .formatVersion "$T/i1.json"): $("$FERRY" --version)"
[ "$(blobs 1)" = 120 ] || fail "bundle 1 carries $(blobs 1) blobs, not 120"
imp 0 "$T/s" 1
[ "$(bindings "$T/s" | wc -l)" = 40 ] || fail "the store holds $(bindings "$T/s" | wc -l) bindings of the channel"
ok "a full bundle of format 2 binds all 40 images, and the store records them as the channel's state"

layout 40 7
I7=$(digest_of i7)
ex
inspect 2
[ "$(jq -r '.bindings, .baseSequence, (.images | length), .images[0].reference, .images[0].digest, .state.images, (.removed | length)' "$T/i2.json" | tr '\n' ' ')" = \
  "changes 1 1 library/x:i7 $I7 40 0 " ] ||
	fail "bundle 2: $(jq -c '{bindings, baseSequence, images, state, removed}' "$T/i2.json")"
[ "$(blobs 2)" = 3 ] || fail "bundle 2 carries $(blobs 2) blobs, not the changed image's 3"
[ "$(jq -r '.prerequisites | length' "$T/i2.json")" = 0 ] || fail "bundle 2 lists prerequisites"
s1=$(stat -c %s "$(bundle 1)") s2=$(stat -c %s "$(bundle 2)")
[ "$s2" -lt 20480 ] || fail "bundle 2 is $s2 bytes (bundle 1: $s1)"
tar -xOf "$(bundle 2)" index.json | jq -e '.manifests | length == 1' >/dev/null ||
	fail "bundle 2's index.json lists other than the one binding it carries"
ok "one image changed: the incremental bundle binds only it, carries its 3 blobs ($s2 bytes, the full one $s1) and states the 40 bindings"

cp -a "$T/s" "$T/s-lost"
imp 0 "$T/s" 2
[ "$(tag "$T/s" library/x:i7)" = "$I7" ] || fail "tag i7 did not move"
[ "$(bindings "$T/s" | wc -l)" = 40 ] || fail "the channel's bindings: $(bindings "$T/s" | wc -l)"
[ "$(tag "$T/s" library/x:i8)" != "" ] || fail "an unchanged tag went away"
ok "the store checks the state the bundle states, moves the one tag and keeps the other 39"

layout 39 7
ex
inspect 3
[ "$(jq -r '.bindings, (.images | length), .removed[0], .state.images' "$T/i3.json" | tr '\n' ' ')" = \
  "changes 0 library/x:i39 39 " ] ||
	fail "bundle 3: $(jq -c '{bindings, images, state, removed}' "$T/i3.json")"
[ "$(blobs 3)" = 0 ] || fail "bundle 3 carries blobs"
imp 0 "$T/s" 3
[ "$(bindings "$T/s" | wc -l)" = 39 ] || fail "the dropped binding is still in the channel's state"
[ -n "$(tag "$T/s" library/x:i39)" ] || fail "the removed binding deleted its tag"
ok "an image dropped from the source is a removed reference: out of the channel's state, its tag kept"

# A store that is not at the base the sender assumed: its channel's
# bindings do not match, so the bundle is refused and nothing moves.
sqlite3 "$T/s-lost/ferry.db" "DELETE FROM channel_images WHERE reference = 'library/x:i20'"
"$FERRY" store ls --store "$T/s-lost" --json >"$T/before.json"
before=$(bindings "$T/s-lost")
imp 2 "$T/s-lost" 2
expect_err "changes the image bindings of sequence 1, but the channel's bindings here would then be 39"
expect_err "not the 40"
expect_err "import the channel's missing bundles, or a full bundle"
"$FERRY" store ls --store "$T/s-lost" --json >"$T/after.json"
diff -u "$T/before.json" "$T/after.json" >&2 || fail "the refused bundle changed the store"
[ "$(bindings "$T/s-lost")" = "$before" ] || fail "the refused bundle changed the channel's bindings"
ok "a store whose bindings are not the bundle's base refuses it (exit 2, naming both states) and stays as it was"

# --full binds everything again; the store's state is replaced by it.
ex --full
inspect 4
[ "$(jq -r '.bindings, (.images | length), .baseSequence' "$T/i4.json" | tr '\n' ' ')" = "all 39 0 " ] ||
	fail "bundle 4: $(jq -c '{bindings, images, baseSequence}' "$T/i4.json")"
imp 0 "$T/s-lost" 4
[ "$(bindings "$T/s-lost")" = "$(bindings "$T/s")" ] || fail "a full bundle did not reset the channel's state"
ok "--full carries every binding, and its import resets a store's state to the channel's"

# An export state that did not record bindings (written before it did):
# the next bundle carries them all, and still builds on its base for blobs.
sqlite3 "$T/state.db" "DELETE FROM image_states"
layout 39 7 8
ex
inspect 5
[ "$(jq -r '.bindings, (.images | length), .baseSequence' "$T/i5.json" | tr '\n' ' ')" = "all 39 4 " ] ||
	fail "bundle 5: $(jq -c '{bindings, images, baseSequence}' "$T/i5.json")"
[ "$(blobs 5)" = 41 ] || fail "bundle 5 carries $(blobs 5) blobs, not the 39 manifests and i8's config and layer"
imp 0 "$T/s" 4
imp 0 "$T/s" 5
[ "$(tag "$T/s" library/x:i8)" = "$(digest_of i8)" ] || fail "tag i8 did not move"
ok "without recorded bindings of its base, a bundle binds them all and imports on top"
