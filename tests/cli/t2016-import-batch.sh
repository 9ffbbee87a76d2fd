#!/usr/bin/env bash
# One import call, many bundles, each its own transaction: a batch holding a
# superseded bundle (b1, the store is at b2), a corrupt one (a2, one byte of
# one volume flipped), one that builds on the corrupt one (a3) and valid
# ones (a1, c1). The valid ones import, b1 is skipped as superseded, a2 is
# refused naming the volume to send again, a3 is refused naming a2, the
# exit status is 2, and the store equals a clean import of a1 and c1 alone.
# The same set imported as a directory gives the same. Sending the volume
# again then imports a2 and a3.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq

mkdir -p "$T/batch"
file_channels_abc 1000
mapfile -t A2 < <(ls "$T"/out-a/ferry-a-000002.vol*.tar)
[ "${#A2[@]}" -ge 3 ] || fail "expected a2 in volumes: $(ls "$T/out-a")"
A3=$T/out-a/ferry-a-000003.tar
[ -f "$A3" ] || fail "no a3: $(ls "$T/out-a")"

# The batch: b1 (superseded), a1, a2 with a byte of volume 2 flipped, a3, c1.
cp "$T/out-b/ferry-b-000001.tar" "$T/out-a/ferry-a-000001.tar" "$A3" \
	"$T/out-c/ferry-c-000001.tar" "$T/batch/"
cp "${A2[@]}" "$T/batch/"
BAD=$T/batch/$(basename "${A2[1]}")
flip_byte "$BAD" $(($(stat -c %s "$BAD") / 2))

# store_with DIR: a store at b2 (a full bundle), never given b1.
store_with() {
	"$FERRY" trust init --store "$1" --key "$T/k.pub" >/dev/null || fail "trust init"
	"$FERRY" import -q --no-seed --store "$1" "$T/out-b/ferry-b-000002.tar" ||
		fail "import of b2"
}
listing() { # STORE: what the store holds, without times
	"$FERRY" store ls --store "$1" --json | jq -S 'walk(if type == "object" then
		with_entries(select(.key | test("time|imported|created|expires"; "i") | not)) else . end)'
	ls "$1/blobs/sha256" | sort
}
store_with "$T/ref"
expect_exit 0 "$FERRY" import --no-seed --store "$T/ref" "$T/out-a/ferry-a-000001.tar" \
	"$T/out-c/ferry-c-000001.tar"
listing "$T/ref" >"$T/ref.ls"

store_with "$T/s1"
expect_exit 2 "$FERRY" import --no-seed --store "$T/s1" "$T"/batch/*.tar
expect_out "imported: channel a sequence 1"
expect_out "imported: channel c sequence 1"
expect_out "superseded: channel b sequence 1"
expect_out "skipped: channel 'b' is at sequence 2; this bundle has sequence 1"
expect_err "volume 2 of ${#A2[@]} (file $(basename "$BAD")) of bundle "
expect_err ", channel a sequence 2: send it again"
expect_err "(channel a, sequence 3) builds on sequence 2, and bundle "
expect_err "(sequence 2) it needs was refused in this import"
[ "$(grep -c 'refused: ' "$T/err")" = 2 ] || fail "expected two refusals: $(cat "$T/err")"
listing "$T/s1" >"$T/s1.ls"
diff -u "$T/ref.ls" "$T/s1.ls" >&2 || fail "the batch's store differs from a clean import of a1 and c1"
ok "a batch imports its valid bundles, skips the superseded one, refuses the corrupt one and the one built on it"

store_with "$T/s2"
expect_exit 2 "$FERRY" import --no-seed --json --store "$T/s2" "$T/batch"
jq -e '.ok == false and (.error | test("send it again"))' "$T/out" >/dev/null ||
	fail "JSON summary: $(cat "$T/out")"
[ "$(jq -r '[.bundles[] | "\(.channel)\(.sequence)=\(.status)"] | join(" ")' "$T/out")" = \
  "a1=imported a2=refused a3=refused b1=superseded c1=imported" ] || fail "JSON statuses: $(cat "$T/out")"
jq -e '[.bundles[] | select(.status == "imported") | .error == null] | all' "$T/out" >/dev/null ||
	fail "an imported bundle has an error: $(cat "$T/out")"
jq -e '[.bundles[] | select(.status != "imported") | .error | type == "string"] | all' "$T/out" >/dev/null ||
	fail "a refused or skipped bundle has no error: $(cat "$T/out")"
listing "$T/s2" >"$T/s2.ls"
diff -u "$T/ref.ls" "$T/s2.ls" >&2 || fail "import DIR's store differs from a clean import of a1 and c1"
ok "import DIR on the same set: the same outcome, --json gives a status and an error per bundle"

# A missing volume names the file to send again.
expect_exit 2 "$FERRY" import --no-seed --store "$T/s2" "${A2[0]}" "${A2[2]}"
expect_err "volume 2 of ${#A2[@]} (file $(basename "${A2[1]}")) of bundle "
ok "a missing volume is named with its file"

# Sent again: a2 and a3 import; the superseded b1 alone is a rollback.
expect_exit 0 "$FERRY" import --no-seed --store "$T/s1" "${A2[@]}" "$A3"
expect_out "imported: channel a sequence 2"
expect_out "imported: channel a sequence 3"
expect_exit 2 "$FERRY" import --no-seed --store "$T/s1" "$T/batch/ferry-b-000001.tar"
expect_err "rollback: channel 'b' is at sequence 2; this bundle has sequence 1"
ok "the volume sent again imports with the bundle built on it; a superseded bundle alone is a rollback"
