#!/usr/bin/env bash
# The reconciler's checkout of a git source writes no file above the limit
# for one file (64 MiB, as for an artifact source's files): a revision
# that holds one fails with a message naming the stack, the file and the
# sizes, is recorded as failed, and the stack stays at the revision it had.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq
. "$SRC/tests/lib/deploy-fixture.sh"
deploy_app_store
C1=$(git -C "$T/work" rev-parse HEAD)

cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
stacks:
  - {name: app, source: {git: deploy, branch: main, path: app}, target: kubernetes}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
expect_exit 0 "${R[@]}" sync app
ok "revision $C1 applies"

head -c $((64 * 1024 * 1024 + 1)) /dev/zero >"$T/work/app/big.bin"
git -C "$T/work" add -A && git -C "$T/work" commit -qm big && git -C "$T/work" push -q origin main 2>/dev/null
C2=$(git -C "$T/work" rev-parse HEAD)
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache" >/dev/null
"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)"
"${R[@]}" status --json >"$T/status.json" || fail "status"
[ "$(jq -r '.[] | select(.stack == "app") | .desired' "$T/status.json")" = "$C2" ] || fail "the branch did not move"

set +e
"${R[@]}" sync app >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a checkout with a file above the limit succeeded"
expect_err "stack 'app': 'app/big.bin' is too large (67108865 bytes, above the limit of 67108864 bytes for one file)"
"${R[@]}" status --json >"$T/status.json" || fail "status"
[ "$(jq -r '.[] | select(.stack == "app") | .applied' "$T/status.json")" = "$C1" ] ||
	{ cat "$T/status.json" >&2; fail "the stack moved off $C1"; }
jq -e 'map(select(.outcome == "failed")) | length == 1' <("${R[@]}" history app --json) >/dev/null ||
	fail "the failure is not in the audit history"
ok "a file above 64 MiB is refused (exit $rc), naming it; the stack stays at $C1"
