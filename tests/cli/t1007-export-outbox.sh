#!/usr/bin/env bash
# Scheduled export into an outbox: files appear in the outbox only whole
# (written in .ferry-partial, renamed in; checksum sidecars verify with
# sha256sum -c), --if-changed writes nothing and keeps the sequence when
# no source changed (exit 3, --json says so) and writes as soon as one
# did, --heartbeat writes a small bundle on a quiet channel, files a crash
# left in staging are handed over (recorded) or removed (unrecorded) by the
# next run, and every bundle that reached the outbox imports in order.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq sha256sum

O=$T/outbox
mkdir -p "$T/files"
head -c 100000 /dev/urandom >"$T/files/a.bin"
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: c\nsources:\n  - file: files\n    name: tools/files\n    tag: v1\n' >"$T/spec.yaml"
export_to_outbox() {
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --outbox "$O" \
		--state "$T/state.db" --cache "$T/cache" "$@"
}

# ---- the outbox gets whole files only ----------------------------------------------
if command -v inotifywait >/dev/null; then
	mkdir -p "$O"
	inotifywait -q -m -e create -e moved_to -e close_write --format '%e %f' "$O" >"$T/events" &
	watcher=$!
	at_exit "kill $watcher 2>/dev/null"
	sleep 0.5
fi
expect_exit 0 export_to_outbox --checksums
[ "$(ls "$O")" = "$(printf 'ferry-c-000001.tar\nferry-c-000001.tar.minisig\nferry-c-000001.tar.sha256')" ] ||
	fail "outbox holds: $(ls -a "$O")"
[ -z "$(ls -A "$O/.ferry-partial")" ] || fail "staging not empty: $(ls -A "$O/.ferry-partial")"
(cd "$O" && sha256sum -c --quiet ferry-c-000001.tar.sha256) || fail "checksum sidecar does not verify"
expect_exit 0 "$FERRY" verify --trust-key "$T/k.pub" "$O/ferry-c-000001.tar"
if [ -n "${watcher:-}" ]; then
	sleep 0.5
	kill "$watcher" 2>/dev/null || true
	grep -v '^MOVED_TO ' "$T/events" | grep -v ' \.ferry-partial$' >"$T/other" || true
	[ ! -s "$T/other" ] || fail "files were written in the outbox itself, not renamed in: $(cat "$T/other")"
	[ "$(grep -c '^MOVED_TO ' "$T/events")" = 3 ] || fail "events: $(cat "$T/events")"
	[ "$(tail -n 1 "$T/events")" = "MOVED_TO ferry-c-000001.tar.minisig" ] ||
		fail "the signature is not handed over last: $(cat "$T/events")"
	ok "every file enters the outbox by a rename, the signature last (inotify)"
fi
ok "--outbox --checksums: the bundle, its signature and a sha256sum sidecar, staging empty"

# ---- --if-changed ----------------------------------------------------------------
expect_exit 3 export_to_outbox --if-changed
expect_out "unchanged since sequence 1: nothing written"
expect_exit 3 export_to_outbox --if-changed --json
[ "$(jq -r '.unchanged, .sequence' "$T/out" | tr '\n' ' ')" = "true 1 " ] || fail "--json: $(cat "$T/out")"
[ "$(ls "$O" | wc -l)" = 3 ] || fail "an unchanged export wrote: $(ls "$O")"
head -c 1000 /dev/urandom >"$T/files/b.bin"
expect_exit 0 export_to_outbox --if-changed --json
[ "$(jq -r '.unchanged, .sequence' "$T/out" | tr '\n' ' ')" = "false 2 " ] || fail "--json: $(cat "$T/out")"
[ -f "$O/ferry-c-000002.tar" ] || fail "a changed source wrote no bundle 2"
ok "--if-changed keeps the sequence while nothing changes (exit 3) and writes when a source does"

# ---- --heartbeat ---------------------------------------------------------------------
expect_exit 3 export_to_outbox --if-changed --heartbeat 1h
sleep 1.2
expect_exit 0 export_to_outbox --if-changed --heartbeat 1s
[ -f "$O/ferry-c-000003.tar" ] || fail "no heartbeat bundle"
[ "$(stat -c %s "$O/ferry-c-000003.tar")" -lt 65536 ] || fail "the heartbeat bundle is not small"
ok "--heartbeat writes a small bundle once the last one is old enough, not before"

# ---- a crash between recording and handing over ---------------------------------------
printf 'channel: c\nsources:\n  - file: files\n    name: tools/files\n    tag: v2\n' >"$T/spec.yaml"
mkdir "$T/direct"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/direct" \
	--state "$T/state.db" --cache "$T/cache" >/dev/null || fail "export 4"
mv "$T/direct/ferry-c-000004.tar" "$T/direct/ferry-c-000004.tar.minisig" "$O/.ferry-partial/"
echo junk >"$O/.ferry-partial/ferry-c-000009.tar"
echo other >"$O/.ferry-partial/ferry-d-000001.tar"
printf 'channel: c\nsources:\n  - file: files\n    name: tools/files\n    tag: v3\n' >"$T/spec.yaml"
expect_exit 0 export_to_outbox
[ -f "$O/ferry-c-000004.tar" ] && [ -f "$O/ferry-c-000004.tar.minisig" ] ||
	fail "the recorded bundle 4 left in staging was not handed over: $(ls -a "$O" "$O/.ferry-partial")"
[ -f "$O/ferry-c-000005.tar" ] || fail "no bundle 5"
[ ! -e "$O/.ferry-partial/ferry-c-000009.tar" ] && [ ! -e "$O/ferry-c-000009.tar" ] ||
	fail "an unrecorded file left in staging was handed over or kept"
[ -f "$O/.ferry-partial/ferry-d-000001.tar" ] || fail "another channel's staged file was touched"
ok "the next run hands over what a crash left recorded in staging and drops what was never recorded"

# The same when nothing changed since: --if-changed writes nothing new but
# still hands over the recorded bundle (else that sequence never leaves).
mv "$O/ferry-c-000005.tar" "$O/ferry-c-000005.tar.minisig" "$O/.ferry-partial/"
expect_exit 3 export_to_outbox --if-changed
[ -f "$O/ferry-c-000005.tar" ] && [ -f "$O/ferry-c-000005.tar.minisig" ] ||
	fail "--if-changed left the recorded bundle 5 in staging: $(ls -a "$O" "$O/.ferry-partial")"
[ ! -e "$O/ferry-c-000006.tar" ] || fail "--if-changed wrote bundle 6 though nothing changed"
ok "--if-changed with nothing changed still hands over a recorded bundle left in staging"

# ---- usage -----------------------------------------------------------------------------
expect_exit 64 "$FERRY" export --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/x" --outbox "$O"
expect_err "--out and --outbox exclude each other"
expect_exit 64 "$FERRY" export --spec "$T/spec.yaml" --key "$T/k.key" --outbox "$O" --heartbeat 1h
expect_err "--heartbeat goes with --if-changed"
expect_exit 64 "$FERRY" export --spec "$T/spec.yaml" --key "$T/k.key" --outbox "$O" --if-changed \
	--heartbeat soon
ok "--out with --outbox, --heartbeat alone or malformed are usage errors"

# ---- the enclave takes them all, in order ---------------------------------------------
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
for n in 1 2 3 4 5; do
	expect_exit 0 "$FERRY" import -q --no-seed --store "$T/store" "$O/ferry-c-00000$n.tar"
done
expect_exit 0 "$FERRY" store get --store "$T/store" tools/files:v3 -o "$T/got"
cmp "$T/got/b.bin" "$T/files/b.bin" || fail "content after the imports"
ok "bundles 1 to 5 from the outbox import in order"
