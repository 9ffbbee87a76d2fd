#!/usr/bin/env bash
# Bundles as media and inboxes hold them: `ferry import DIR` and
# `ferry verify DIR` take the directory's bundle files (volumes in any
# order) and leave out detached signatures, checksum sidecars and other
# files with a note; `ferry import DIR/*` (a shell glob) no longer fails on
# the .minisig files; an empty directory is an error naming it.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq

mkdir -p "$T/files" "$T/media"
head -c 300000 /dev/urandom >"$T/files/a.bin"
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: m\nsources:\n  - file: files\n    name: tools/a\n    tag: v1\n' >"$T/spec.yaml"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --outbox "$T/media" --checksums \
	--max-volume-size 128K --state "$T/state.db" --cache "$T/cache" >/dev/null || fail "export"
[ "$(ls "$T/media" | grep -c '\.vol[0-9]*\.tar$')" -ge 2 ] || fail "expected volumes: $(ls "$T/media")"
echo "notes" >"$T/media/README.txt"
mkdir "$T/media/sub"

expect_exit 0 "$FERRY" verify --trust-key "$T/k.pub" "$T/media/"
expect_err "leaving out '$T/media/README.txt' (not a bundle file)"
expect_err "(a detached signature beside a bundle file)"
expect_out "all volumes verified"
grep -q '//' "$T/err" "$T/out" && fail "paths with '//': $(cat "$T/err")"
ok "verify DIR checks the directory's volumes and leaves the rest out, saying so"

"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
expect_exit 0 "$FERRY" import --no-seed --store "$T/store" "$T/media"
expect_out "imported: channel m sequence 1"
expect_exit 0 "$FERRY" import -q --no-seed --json --store "$T/store" "$T"/media/*.tar*
[ "$(jq -r '.bundles[0].outcome' "$T/out")" = "already imported" ] || fail "glob import: $(cat "$T/out")"
[ ! -s "$T/err" ] || fail "-q/--json still printed notes: $(cat "$T/err")"
ok "import DIR and import DIR/* take the bundle files and skip signatures and checksums"

mkdir "$T/empty"
expect_exit 1 "$FERRY" import --no-seed --store "$T/store" "$T/empty"
expect_err "no bundle files among the 1 operand(s)"
ok "a directory without bundle files is an error"
