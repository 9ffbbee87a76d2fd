#!/usr/bin/env bash
# ferry inbox once/run/status fed over time: volumes of two bundles
# interleaved and out of order, one volume corrupt then sent again alone, a
# bundle with a signature file that does not match, then sent again, a
# superseded bundle, a .minisig beside every file, a stray text file, a file
# still being written, and a bundle whose prerequisite sequence arrives
# later. Everything valid ends imported in order, each rejection has its
# reason file in plain words, nothing valid is held back, and the store
# equals a clean ferry import of the same bundles.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq

mkdir -p "$T/in"
file_channels_abc 300000 --max-volume-size 128K
mapfile -t A2 < <(ls "$T"/out-a/ferry-a-000002.vol*.tar)
mapfile -t C1 < <(ls "$T"/out-c/ferry-c-000001.vol*.tar)
[ "${#A2[@]}" -ge 3 ] && [ "${#C1[@]}" -ge 3 ] || fail "expected volumes: $(ls "$T"/out-*)"
A1=$T/out-a/ferry-a-000001.tar A3=$T/out-a/ferry-a-000003.tar
B1=$T/out-b/ferry-b-000001.tar B2=$T/out-b/ferry-b-000002.tar
for f in "$A1" "${A2[@]}" "$A3" "$B1" "$B2" "${C1[@]}"; do
	[ -f "$f" ] && [ -f "$f.minisig" ] || fail "no $f or its signature"
done

listing() { # STORE: what the store holds, without times
	"$FERRY" store ls --store "$1" --json | jq -S 'walk(if type == "object" then
		with_entries(select(.key | test("time|imported|created|expires"; "i") | not)) else . end)'
	ls "$1/blobs/sha256" | sort
	for r in "$1"/git/*.git; do [ -d "$r" ] && git -C "$r" show-ref; done 2>/dev/null || true
}
"$FERRY" trust init --store "$T/ref" --key "$T/k.pub" >/dev/null
# b2 arrives first at the inbox, so b1 is superseded there: the same here.
"$FERRY" import -q --no-seed --store "$T/ref" "$B2" || fail "clean import of b2"
"$FERRY" import -q --no-seed --store "$T/ref" "$A1" "${A2[@]}" "$A3" "$B1" "${C1[@]}" ||
	fail "clean import"
listing "$T/ref" >"$T/ref.ls"

S=$T/s IN=$T/in
"$FERRY" trust init --store "$S" --key "$T/k.pub" >/dev/null
send() { # FILE [NAME]: copy FILE and its signature into the inbox
	cp "$1" "$IN/${2:-$(basename "$1")}"
	cp "$1.minisig" "$IN/${2:-$(basename "$1")}.minisig"
}
once() { expect_exit 0 "$FERRY" inbox once --no-seed --settle 3 --store "$S" --dir "$IN" "$@"; }
settle() { sleep 3.2; }
status() { "$FERRY" inbox status --dir "$IN" --json >"$T/status.json" || fail "inbox status"; }

# Round 1: volume 1 of a2, volume 2 of c1, volume 3 of a2 corrupt, volume 1
# of c1, b2, a3 with a1's signature file, a stray note.
send "${A2[0]}"; send "${C1[1]}"; send "${A2[2]}"; send "${C1[0]}"; send "$B2"
cp "$A3" "$IN/"; cp "$A1.minisig" "$IN/$(basename "$A3").minisig"
echo "hello" >"$IN/notes.txt"
BAD=$IN/$(basename "${A2[2]}")
flip_byte "$BAD" $(($(stat -c %s "$BAD") / 2))
settle
once
expect_out "1 imported"
R=$IN/rejected
[ -f "$R/$(basename "${A2[2]}")" ] && [ -f "$R/$(basename "${A2[2]}").minisig" ] ||
	fail "corrupt volume not in rejected/ with its signature: $(ls "$R")"
grep -q "^volume 3 of ${#A2[@]} (file $(basename "${A2[2]}")) of bundle [0-9a-f]\{16\}, channel a sequence 2 is corrupt" \
	"$R/$(basename "${A2[2]}").reason" || fail "reason: $(cat "$R"/*.reason)"
grep -q "send it again" "$R/$(basename "${A2[2]}").reason" || fail "reason lacks what to do"
grep -q "does not match its signature file $(basename "$A3").minisig" "$R/$(basename "$A3").reason" ||
	fail "signature reason: $(cat "$R/$(basename "$A3").reason")"
[ -f "$IN/notes.txt" ] || fail "the stray file was touched"
[ -f "$IN/done/$(basename "$B2")" ] && [ -f "$IN/done/$(basename "$B2").minisig" ] || fail "b2 not done"
status
jq -e '.ignored == ["notes.txt"]' "$T/status.json" >/dev/null || fail "stray not noted: $(cat "$T/status.json")"
jq -e --argjson n "${#A2[@]}" '[.waiting[] | select(.channel == "a" and .sequence == 2)][0] |
	.volumes == $n and (.missingVolumes | index(2) != null) and (.missingVolumes | index(3) != null)' \
	"$T/status.json" >/dev/null || fail "a2's missing volumes: $(cat "$T/status.json")"
jq -e '[.rejected[] | .note | test("send (it|both) again")] | length == 2 and all' "$T/status.json" >/dev/null ||
	fail "status rejections: $(cat "$T/status.json")"
ok "round 1: b2 imported, the corrupt volume and the badly signed bundle rejected with reasons, the rest waits"

# Round 2: a3 again (right signature), the rest of c1, b1 (superseded), a
# second copy of volume 1 of a2, and volume 3 of a2 still being written.
send "$A3"; for v in "${C1[@]:2}"; do send "$v"; done; send "$B1"; send "${A2[0]}"
half=$(($(stat -c %s "${A2[2]}") / 2))
settle
head -c "$half" "${A2[2]}" >"$IN/$(basename "${A2[2]}")"
once
expect_out "1 imported, 2 skipped"   # c1; b1 superseded, the copy of a volume
[ -f "$IN/done/$(basename "${A2[0]}")" ] || fail "the copy of a received volume not in done/"
[ -f "$IN/$(basename "${A2[2]}")" ] || fail "the file being written was taken"
[ -f "$IN/done/$(basename "$B1")" ] || fail "superseded b1 not in done/"
status
jq -e '.settling == ["'"$(basename "${A2[2]}")"'"]' "$T/status.json" >/dev/null ||
	fail "settling: $(cat "$T/status.json")"
jq -e '[.done[] | select(.outcome == "superseded" and .channel == "b" and .sequence == 1)] | length == 1' \
	"$T/status.json" >/dev/null || fail "b1 not noted superseded: $(cat "$T/status.json")"
jq -e '[.waiting[] | select(.channel == "a" and .sequence == 3)][0].waitsForSequence == 2' \
	"$T/status.json" >/dev/null || fail "a3 should wait for sequence 2: $(cat "$T/status.json")"
expect_exit 0 "$FERRY" inbox status --dir "$IN"
expect_out "channel a sequence 3 (bundle "
expect_out "complete, waits for sequence 2 of its channel"
expect_out "notes.txt"
ok "round 2: c1 imported from interleaved volumes, b1 superseded to done/, a3 waits for sequence 2, the file being written left alone"

# Round 3: the rest of the volume arrives, its signature file only just
# before the pass (so the volume waits for it to settle too); a1 and the
# other volumes of a2 too.
tail -c +$((half + 1)) "${A2[2]}" >>"$IN/$(basename "${A2[2]}")"
send "$A1"; for v in "${A2[1]}" "${A2[@]:3}"; do send "$v"; done
settle
cp "${A2[2]}.minisig" "$IN/"
once
expect_out "1 imported"   # a1
expect_out "2 settling"   # the volume and its signature file
[ -f "$IN/$(basename "${A2[2]}")" ] || fail "a volume was taken before its signature file settled"
settle
once
expect_out "2 imported"   # a2, then a3
status
[ "$(jq -c '.waiting' "$T/status.json")" = "[]" ] || fail "still waiting: $(cat "$T/status.json")"
seqs=$(jq -r 'select(.outcome == "imported") | "\(.channel)\(.sequence)"' "$IN/.ferry-inbox/history.jsonl" | tr '\n' ' ')
[ "$seqs" = "b2 c1 a1 a2 a3 " ] || fail "import order: $seqs"
listing "$S" >"$T/s.ls"
diff -u "$T/ref.ls" "$T/s.ls" >&2 || fail "the inbox's store differs from a clean import"
for f in "$A1" "${A2[@]}" "$A3" "$B1" "$B2" "${C1[@]}"; do
	[ -f "$IN/done/$(basename "$f")" ] || fail "$(basename "$f") not in done/: $(ls "$IN/done")"
done
[ "$(ls "$IN" | sort | tr '\n' ' ')" = "done notes.txt rejected " ] || fail "left in the inbox: $(ls -a "$IN")"
[ -z "$(ls "$IN/.ferry-inbox/staging")" ] || fail "staging not empty"
ok "round 3: a1, a2 and a3 import in order (a volume waits for its signature file to settle); the store equals a clean import; every valid file in done/"

# A pass with nothing new changes nothing; a second inbox on DIR is refused.
once
expect_out "0 imported, 0 skipped, 0 rejected, 0 waiting"
exec 9>"$IN/.ferry-inbox/lock"
flock -n 9 || fail "cannot take the lock"
expect_exit 1 "$FERRY" inbox once --no-seed --store "$S" --dir "$IN"
expect_err "another inbox is working on"
exec 9>&-
ok "a quiet pass does nothing; one inbox at a time"

# ferry inbox run: a bundle dropped in while it runs is imported; the same
# bundle again goes to done/ as already imported; SIGTERM stops it.
mkdir -p "$T/files/d" "$T/out-d" "$T/in2"
head -c 1000 /dev/urandom >"$T/files/d/one.bin"
export_file_channel d out-d
"$FERRY" inbox run --no-seed --settle 1 --interval 30 --store "$S" --dir "$T/in2" 2>"$T/run.err" &
pid=$!
at_exit "kill $pid 2>/dev/null"
sleep 0.5
cp "$T/out-d/ferry-d-000001.tar" "$T/in2/.ferry-d-000001.tar"
mv "$T/in2/.ferry-d-000001.tar" "$T/in2/ferry-d-000001.tar"
for _ in $(seq 50); do [ -f "$T/in2/done/ferry-d-000001.tar" ] && break; sleep 0.2; done
[ -f "$T/in2/done/ferry-d-000001.tar" ] || fail "run did not import: $(cat "$T/run.err")"
cp "$T/out-d/ferry-d-000001.tar" "$T/in2/"
for _ in $(seq 50); do [ -f "$T/in2/done/ferry-d-000001.tar.1" ] && break; sleep 0.2; done
[ -f "$T/in2/done/ferry-d-000001.tar.1" ] || fail "run did not move the copy: $(cat "$T/run.err")"
kill -TERM $pid
wait $pid || fail "run exited $?: $(cat "$T/run.err")"
grep -q "imported channel d sequence 1" "$T/run.err" || fail "run log: $(cat "$T/run.err")"
grep -q "stopped" "$T/run.err" || fail "run did not say it stopped: $(cat "$T/run.err")"
"$FERRY" inbox status --dir "$T/in2" --json | jq -e '[.done[] | .outcome] == ["imported", "already"]' >/dev/null ||
	fail "run status: $("$FERRY" inbox status --dir "$T/in2" --json)"
ok "inbox run imports what lands, moves a copy of an imported bundle to done/, stops on SIGTERM"
