#!/usr/bin/env bash
# A webhook's pusher login is outside text: a login holding a newline and a
# forged history line, ESC and CR is recorded and shown by 'ferry reconcile
# history' escaped (\x0a, \x1b, \x0d), so the history keeps one line per
# cycle and no raw control byte. The kubernetes target runs with dry-run.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq curl python3

. "$SRC/tests/lib/deploy-fixture.sh"
deploy_git_init
deploy_manifest "$T/work/app/deployment.yaml"
deploy_store
printf 'stack-secret\n' >"$T/good.secret"
cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
webhook: {listen: "127.0.0.1:0"}
stacks:
  - name: good
    source: {git: deploy, branch: main, path: app}
    target: kubernetes
    policy: {interval: 1h}
    webhook: {secret-file: good.secret}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
"${R[@]}" run --port-file "$T/port" -v 2>"$T/daemon.log" &
DAEMON=$!
at_exit 'kill $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null'
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { cat "$T/daemon.log" >&2; fail "daemon did not start"; }
URL=http://127.0.0.1:$(cat "$T/port")
for _ in $(seq 1 200); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] && break; sleep 0.05; done

jq -cn '{pusher: {login: "ev\n2099-01-01T00:00:00Z good  manual  admin\u001b[2K\r"}}' >"$T/body.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer stack-secret' \
	-H 'Content-Type: application/json' --data-binary @"$T/body.json" "$URL/hooks/stacks/good")
[ "$code" = 202 ] || fail "webhook: HTTP $code"
for _ in $(seq 1 200); do
	"${R[@]}" history good >"$T/history" 2>/dev/null
	grep -qF 'webhook:ev' "$T/history" && break
	sleep 0.1
done
grep -qF 'webhook:ev\x0a2099-01-01' "$T/history" || { cat "$T/history" >&2; fail "the login is not shown escaped"; }
! grep -q '^2099-01-01' "$T/history" || fail "a forged line appears in the history"
python3 -c '
import sys
t = open(sys.argv[1], "rb").read().decode("utf-8")
bad = [c for c in t if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
sys.exit("control characters: %r" % bad if bad else 0)' "$T/history" || fail "raw control bytes in the history"
grep -aq $'\033\|\r' "$T/daemon.log" && fail "raw ESC or CR in the daemon log"
ok "a webhook login with a newline, ESC and CR is shown escaped; the history keeps one line per cycle"
