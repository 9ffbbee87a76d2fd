#!/usr/bin/env bash
# ferry inbox once survives SIGKILL at any step. One inbox holds: a1 (one
# file), a2 (three volumes), a3 (builds on a2), three volumes of c1 (four
# volumes) one of them corrupt, each with its .minisig. An
# uninterrupted pass gives the reference: the store, done/, rejected/ and
# what waits. Then, on fresh copies, the pass is killed with SIGKILL at the
# Nth rename (every move into staging, done/ and rejected/, every atomic
# write of the inbox and of the import's publish), the Nth fsync and the
# Nth unlink (20 points spread over them), injected by strace so that
# each point is exact. After each
# kill one more pass must converge on the reference: the same store, each
# bundle imported once (one row in imports), every file in done/ or
# rejected/ (with its reason) or staged, nothing left behind; and a
# further pass changes nothing.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq sqlite3 strace
strace -f -qq -o /dev/null -e trace=none true 2>/dev/null || skip_all "strace cannot trace here"
cp "$FERRY" "$T/ferry"
FERRY=$T/ferry
# LeakSanitizer cannot run under ptrace: traced runs check no leaks (the
# passes that follow them, untraced, do).
traced() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace "$@"; }

mkdir -p "$T/files" "$T/out" "$T/in0"
"$FERRY" keygen -o "$T/k" >/dev/null
export_ch() { export_file_channel "$1" out "${@:2}"; }
mkdir -p "$T/files/a" "$T/files/c"
head -c 1000 /dev/urandom >"$T/files/a/one.bin"; export_ch a
head -c 300000 /dev/urandom >"$T/files/a/two.bin"; export_ch a --max-volume-size 128K
head -c 1000 /dev/urandom >"$T/files/a/three.bin"; export_ch a
head -c 400000 /dev/urandom >"$T/files/c/one.bin"; export_ch c --max-volume-size 128K
mapfile -t C1 < <(ls "$T"/out/ferry-c-000001.vol*.tar)
[ "${#C1[@]}" -ge 4 ] || fail "c1 has ${#C1[@]} volumes"
cp "$T"/out/ferry-a-* "$T/in0/"
for v in "${C1[@]:1}"; do cp "$v" "$v.minisig" "$T/in0/"; done
BAD=$T/in0/$(basename "${C1[1]}")
flip_byte "$BAD" $(($(stat -c %s "$BAD") / 2))
"$FERRY" trust init --store "$T/s0" --key "$T/k.pub" >/dev/null
sleep 1.1

once() { "$FERRY" inbox once -q --no-seed --settle 0 --store "$1" --dir "$2" 2>>"$T/log"; }
# state STORE DIR: everything a converged pass decides, without times
state() {
	"$FERRY" store ls --store "$1" --json | jq -S 'walk(if type == "object" then
		with_entries(select(.key | test("time|imported|created|expires"; "i") | not)) else . end)'
	ls "$1/blobs/sha256" | sort
	sqlite3 "$1/ferry.db" "SELECT channel, sequence, count(*) FROM imports GROUP BY bundle_id ORDER BY 1, 2"
	(cd "$2" && find . -path ./.ferry-inbox/history.jsonl -prune -o -path ./.ferry-inbox/status.json \
		-prune -o -type f -print | sort)
	(cd "$2" && sha256sum rejected/* done/* | sort)
	"$FERRY" inbox status --dir "$2" --json | jq -S '.waiting, .settling, .ignored'
}
cp -a "$T/s0" "$T/ref"; cp -a "$T/in0" "$T/in-ref"
once "$T/ref" "$T/in-ref" || fail "the uninterrupted pass"
state "$T/ref" "$T/in-ref" >"$T/ref.state"
grep -q "ferry-c-000001.vol002.tar.reason" "$T/ref.state" || fail "no rejection in the reference"
[ "$(sqlite3 "$T/ref/ferry.db" "SELECT count(*) FROM imports")" = 3 ] || fail "reference imports"

# How many of each step the uninterrupted pass makes.
cp -a "$T/s0" "$T/probe"; cp -a "$T/in0" "$T/in-probe"
traced -f -qq -o "$T/trace" -e trace=rename,fsync,unlink \
	"$FERRY" inbox once -q --no-seed --settle 0 --store "$T/probe" --dir "$T/in-probe" ||
	fail "the traced pass"
# 20 points spread over each kind of step (more where there are more).
points=()
for spec in rename:11 fsync:5 unlink:4; do
	call=${spec%:*} want=${spec#*:}
	n=$(grep -cE "^[0-9]+ +$call\(" "$T/trace" || true)
	[ "$n" -ge "$want" ] || want=$n
	for ((k = 0; k < want; k++)); do points+=("$call:$((1 + k * n / want))"); done
done
[ "${#points[@]}" -ge 20 ] || fail "only ${#points[@]} kill points: $(cut -d'(' -f1 "$T/trace" | sort | uniq -c)"

killed=0
for p in "${points[@]}"; do
	call=${p%:*} n=${p#*:}
	rm -rf "$T/s" "$T/in"
	cp -a "$T/s0" "$T/s"; cp -a "$T/in0" "$T/in"
	rc=0
	{ traced -f -qq -o /dev/null -e trace="$call" -e inject="$call:signal=KILL:when=$n" \
		"$FERRY" inbox once -q --no-seed --settle 0 --store "$T/s" --dir "$T/in"; } 2>/dev/null || rc=$?
	[ "$rc" = 0 ] || killed=$((killed + 1))
	once "$T/s" "$T/in" || fail "pass after a kill at $call #$n: $(tail -3 "$T/log")"
	state "$T/s" "$T/in" >"$T/s.state"
	diff -u "$T/ref.state" "$T/s.state" >&2 || fail "after a kill at $call #$n the inbox did not converge"
	# every fourth time, a further pass changes nothing
	if [ $((killed % 4)) = 0 ]; then
		once "$T/s" "$T/in" || fail "second pass after a kill at $call #$n"
		state "$T/s" "$T/in" >"$T/s.state"
		diff -u "$T/ref.state" "$T/s.state" >&2 ||
			fail "a second pass after a kill at $call #$n changed things"
	fi
done
echo "# ${#points[@]} kill points, $killed killed the pass"
[ "$killed" -ge 18 ] || fail "only $killed of the injected kills hit the pass"
ok "killed at ${#points[@]} points (rename, fsync, unlink), the next pass converges: nothing lost, nothing imported twice"
