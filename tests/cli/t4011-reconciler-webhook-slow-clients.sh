#!/usr/bin/env bash
# Slow clients cannot hold the reconciler's webhook listener: while 64
# connections from 8 addresses trickle their headers one byte a second (as
# many as the listener takes), a valid import notification is still
# accepted at once, and each trickling connection is cut at the 10 s header
# deadline. The kubernetes target runs with dry-run.
. "$(dirname "$0")/../lib/test-lib.sh"
need git curl python3

. "$SRC/tests/lib/deploy-fixture.sh"
deploy_app_store
printf 'import-token\n' >"$T/import.token"
cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
webhook: {listen: "127.0.0.1:0", token-file: import.token}
stacks:
  - name: app
    source: {git: deploy, branch: main, path: app}
    target: kubernetes
    policy: {interval: 1h}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
deploy_daemon
PORT=${URL##*:}

python3 "$SRC/tests/lib/trickle.py" "$PORT" --count 64 --path /hooks/import --reconnect \
	--sources 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9 \
	--report "$T/trickle" --seconds 14 &
TRICKLE=$!
at_exit "kill $TRICKLE 2>/dev/null"
sleep 2
for i in 1 2 3; do
	r=$(curl -s -o "$T/reply" -w '%{http_code} %{time_total}' --max-time 5 -X POST \
		-H 'Authorization: Bearer import-token' -H 'Content-Type: application/json' \
		--data-binary '{"channel":"c","sequence":1}' "$URL/hooks/import") || true
	case $r in
	202\ *) awk -v t="${r#* }" 'BEGIN { exit !(t < 2) }' || fail "notification $i took ${r#* }s" ;;
	*) fail "import notification $i while 64 connections trickled: '$r'" ;;
	esac
	sleep 2
done
ok "a valid import notification is accepted within 2 s while 64 connections trickle"

wait "$TRICKLE" || true
awk '$1 == "cut" && $2 >= 9.9 && $2 <= 13 { n++ } $2 > 13 { bad = 1 } END { exit !(n >= 1 && !bad) }' "$T/trickle" ||
	{ sort -k2n "$T/trickle" | tail >&2; fail "tricklers were not cut at the 10 s header deadline"; }
ok "trickling connections are cut at the 10 s header deadline ($(grep -c '^cut' "$T/trickle") cut)"
