#!/usr/bin/env bash
# A killed export leaves nothing behind and uses no sequence number. An
# export of a 96 MiB layout into volumes is killed with SIGKILL at points
# spread over its run; after each kill the output directory holds no file
# at all (bundle volumes are written unnamed and named only when complete)
# or, when the kill came after the export was recorded, the whole bundle,
# which verifies; the export state names sequence 1 only then. The next
# export then writes the next sequence, and its bundle verifies.
. "$(dirname "$0")/../lib/test-lib.sh"
need sqlite3 jq sha256sum tar
. "$SRC/tests/lib/oci-fixture.sh"

make_big_oci_layout "$T/layout" 96 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: kill\nsources:\n  - oci-layout: %s\n    name: library/app\n' "$T/layout" >"$T/spec.yaml"
ex() { "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db" --max-volume-size 40M "$@"; }
# recorded: the channel's last sequence in the export state (0: none; the
# state may not exist yet, or hold no table: it is not created here)
recorded() {
	[ -s "$T/state.db" ] || { echo 0; return; }
	sqlite3 -readonly "$T/state.db" "SELECT last_sequence FROM channels WHERE name = 'kill'" \
		2>/dev/null || echo 0
}

# How long one whole export takes here, to spread the kills over it.
mkdir "$T/bundles"
t0=$EPOCHREALTIME
ex >/dev/null || fail "a whole export failed"
t1=$EPOCHREALTIME
whole=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%d", (a - b) * 1000 }')
nfiles=$(ls "$T/bundles" | wc -l)
[ "$nfiles" -ge 6 ] || fail "the whole export wrote $nfiles files: $(ls "$T/bundles")"
ok "a whole export takes $whole ms and writes $nfiles files (volumes and signatures)"

kills=0 complete=0 named=0
for pct in 2 10 20 30 40 50 60 70 80 90 95 99 110; do
	rm -rf "$T/bundles" "$T/state.db"
	mkdir "$T/bundles"
	# exec: the process killed is ferry itself, not a subshell around it
	(exec "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
		--state "$T/state.db" --max-volume-size 40M >/dev/null 2>&1) &
	pid=$!
	sleep "$(awk -v w="$whole" -v p="$pct" 'BEGIN { printf "%.3f", w * p / 100000 }')"
	kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
	wait "$pid" 2>/dev/null || true
	seq=$(recorded)
	if [ "${seq:-0}" = 0 ]; then
		# Nothing, or (killed in the instant between naming the files and
		# recording them) the whole bundle, which the next export replaces.
		n=$(ls -A "$T/bundles" | wc -l)
		[ "$n" = 0 ] || [ "$n" = "$nfiles" ] ||
			fail "killed at $pct%: no sequence recorded, but the output holds: $(ls "$T/bundles")"
		[ "$n" = 0 ] || named=$((named + 1))
	else
		[ "$seq" = 1 ] || fail "killed at $pct%: sequence $seq recorded"
		[ "$(ls "$T/bundles" | wc -l)" = "$nfiles" ] || fail "killed at $pct%: sequence 1 recorded with: $(ls "$T/bundles")"
		"$FERRY" verify -q --trust-key "$T/k.pub" "$T"/bundles/*.tar || fail "killed at $pct%: the bundle does not verify"
		complete=$((complete + 1))
	fi
	ex >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "killed at $pct%: the next export failed"; }
	next=$(printf '%06d' $((${seq:-0} + 1)))
	[ "$(recorded)" = $((${seq:-0} + 1)) ] || fail "killed at $pct%: the next export recorded $(recorded)"
	"$FERRY" verify -q --trust-key "$T/k.pub" "$T"/bundles/ferry-kill-$next*.tar ||
		fail "killed at $pct%: the next bundle does not verify"
	[ "$(ls "$T/bundles" | grep -c "^ferry-kill-$next")" -ge 2 ] ||
		fail "killed at $pct%: the next export wrote $(ls "$T/bundles")"
done
[ "$kills" -ge 8 ] || fail "only $kills of the exports were still running when killed"
ok "$kills kills with SIGKILL over the export ($complete after it was recorded, $named between naming and recording): each left no file and no sequence, or the whole bundle; the next export follows"

# The instant between naming and recording, made to happen: the state as it
# was before an export, with that export's files named. The next export
# takes them for the leftovers they are, and writes the sequence again.
last=$(recorded)
cp "$T/state.db" "$T/before.db"
ex --full >/dev/null || fail "export"
old=$(ls "$T/bundles" | grep "^ferry-kill-$(printf '%06d' $((last + 1)))")
[ -n "$old" ] || fail "no files of sequence $((last + 1))"
sum=$(cd "$T/bundles" && sha256sum $old)
cp "$T/before.db" "$T/state.db"
sleep 1   # another creation time: other bytes
id=$("$FERRY" inspect --json "$T/bundles/$(echo "$old" | grep -m1 '\.tar$')" | jq -r .id)
sqlite3 "$T/state.db" "INSERT OR REPLACE INTO pending(channel, sequence, dir, bundle_id)
	VALUES ('kill', $((last + 1)), '$T/bundles', '$id')"
ex --full >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "the export after the leftovers failed"; }
[ "$(recorded)" = $((last + 1)) ] || fail "recorded $(recorded)"
[ "$(cd "$T/bundles" && sha256sum $old)" != "$sum" ] || fail "the leftovers were not replaced"
"$FERRY" verify -q --trust-key "$T/k.pub" "$T"/bundles/ferry-kill-$(printf '%06d' $((last + 1)))*.tar ||
	fail "the new bundle does not verify"
ok "files an export named but did not record are replaced by the next export of that state"

# Another state's bundle of the same name is not such a leftover: refused.
cp "$T/state.db" "$T/other.db"
sqlite3 "$T/other.db" "DELETE FROM channels; DELETE FROM exports; DELETE FROM pending"
sum=$(cd "$T/bundles" && sha256sum ferry-kill-000001*)
expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/other.db" --max-volume-size 40M
expect_err "already exists"
[ "$(cd "$T/bundles" && sha256sum ferry-kill-000001*)" = "$sum" ] || fail "another state's bundle changed"
ok "a bundle of the same name that another state wrote stays, and the export is refused"

# One export at a time per state.
exec {held}<"$T/state.db"
flock -x "$held"
expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db"
expect_err "another export is using the export state"
exec {held}<&-
ok "a second export of the same state at the same time is refused, naming the state"
