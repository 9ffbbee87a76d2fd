#!/usr/bin/env bash
# ferry inbox once imports every ready bundle of a pass in one import, and
# still judges each on its own: with x1 (damaged inside, which only the
# import sees), x2 building on it and y1 landing together, y1 is imported,
# x1 is rejected with its reason, and x2 is neither imported nor rejected:
# it waits for sequence 1. Once x1 is sent again intact, x1 and x2 are
# imported in order, and the store equals a clean import of the same
# bundles.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq

mkdir -p "$T/files/x" "$T/files/y" "$T/bundles" "$T/in"
"$FERRY" keygen -o "$T/k" >/dev/null
head -c 300000 /dev/urandom >"$T/files/x/one.bin"
export_file_channel x bundles
head -c 1000 /dev/urandom >"$T/files/x/two.bin"
export_file_channel x bundles
head -c 1000 /dev/urandom >"$T/files/y/one.bin"
export_file_channel y bundles
X1=$T/bundles/ferry-x-000001.tar X2=$T/bundles/ferry-x-000002.tar Y1=$T/bundles/ferry-y-000001.tar
for f in "$X1" "$X2" "$Y1"; do [ -f "$f" ] || fail "no $f: $(ls "$T/bundles")"; done

"$FERRY" trust init --store "$T/ref" --key "$T/k.pub" >/dev/null
"$FERRY" import -q --no-seed --store "$T/ref" "$X1" "$X2" "$Y1" || fail "clean import"
S=$T/s IN=$T/in
"$FERRY" trust init --store "$S" --key "$T/k.pub" >/dev/null
once() { expect_exit 0 "$FERRY" inbox once --no-seed --settle 0 --store "$S" --dir "$IN" "$@"; }

cp "$X1" "$X2" "$Y1" "$IN/"
flip_byte "$IN/$(basename "$X1")" 150000
sleep 1.1
once
expect_out "1 imported"
expect_out "1 waiting"
[ -f "$IN/done/$(basename "$Y1")" ] || fail "y1 not done: $(ls -R "$IN")"
R=$IN/rejected/$(basename "$X1")
[ -f "$R" ] && grep -q "channel x sequence 1 was refused" "$R.reason" ||
	fail "x1 not rejected with a reason: $(ls -R "$IN"; cat "$IN"/rejected/*.reason 2>/dev/null)"
[ ! -e "$IN/rejected/$(basename "$X2")" ] && [ ! -e "$IN/done/$(basename "$X2")" ] ||
	fail "x2 was decided, it should wait: $(ls -R "$IN")"
"$FERRY" inbox status --dir "$IN" --json >"$T/status.json" || fail "inbox status"
jq -e '[.waiting[] | select(.channel == "x" and .sequence == 2)][0].waitsForSequence == 1' \
	"$T/status.json" >/dev/null || fail "x2 does not wait for sequence 1: $(cat "$T/status.json")"
"$FERRY" store ls --store "$S" --json | jq -e '[.. | strings | select(test("tools/x"))] | length == 0' \
	>/dev/null || fail "something of channel x was published"
ok "one import: y1 in, x1 rejected with its reason, x2 waits for sequence 1"

# An outcome record cut short by a power loss (outcomes are synced once
# for all before any file moves by them): the bundle is judged again, not
# moved to done/.
X2DIR=$(dirname "$(ls "$IN"/.ferry-inbox/staging/*/0001-"$(basename "$X2")")")
: >"$X2DIR/outcome"
once
expect_out "1 waiting"
[ ! -e "$IN/done/$(basename "$X2")" ] && [ -f "$X2DIR/0001-$(basename "$X2")" ] ||
	fail "x2 moved by an empty outcome record: $(ls -R "$IN")"
[ ! -e "$X2DIR/outcome" ] || fail "the cut outcome record was kept"
ok "an outcome record cut short: the bundle is judged again"

cp "$X1" "$IN/"
sleep 1.1
once
expect_out "2 imported"
[ -f "$IN/done/$(basename "$X1")" ] && [ -f "$IN/done/$(basename "$X2")" ] ||
	fail "x1 and x2 not done: $(ls -R "$IN")"
listing() {
	"$FERRY" store ls --store "$1" --json | jq -S 'walk(if type == "object" then
		with_entries(select(.key | test("time|imported|created|expires"; "i") | not)) else . end)'
	ls "$1/blobs/sha256" | sort
}
[ "$(listing "$S")" = "$(listing "$T/ref")" ] || fail "the store differs from a clean import"
ok "x1 sent again: x1 and x2 imported in order; the store equals a clean import"
