#!/usr/bin/env bash
# Slow clients cannot hold the mirror: a request whose headers trickle in
# one byte a second is cut at --header-timeout however steady the trickle
# (the idle timeout alone never fires), a trickling body at --body-timeout,
# and while twenty such connections from four addresses fill
# --max-connections, a well-behaved client is still answered at once (the
# connection reading its request the longest makes room).
. "$(dirname "$0")/../lib/test-lib.sh"
need curl python3
. "$SRC/tests/lib/mirror.sh"
TRICKLE=$SRC/tests/lib/trickle.py

"$FERRY" keygen -o "$T/k" >/dev/null
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
mirror_start "$T/store" --header-timeout 3 --body-timeout 3 --idle-timeout 3 \
	--max-connections 20 --max-per-client 5 || fail "mirror did not start"
at_exit mirror_stop

python3 "$TRICKLE" "$MIRROR_PORT" --count 20 --sources 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 \
	--reconnect --report "$T/heads" --seconds 10 &
heads=$!
at_exit "kill $heads 2>/dev/null"
sleep 1.5
for i in 1 2 3 4 5; do
	r=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 3 "$MIRROR_URL/v2/") || true
	case $r in
	200\ *) awk -v t="${r#* }" 'BEGIN { exit !(t < 2) }' || fail "request $i took ${r#* }s" ;;
	*) fail "request $i while 20 connections trickled: '$r'" ;;
	esac
	sleep 1
done
ok "a well-behaved client is answered within 2 s while 20 connections from 4 addresses trickle"

wait "$heads" || true
grep -q '^cut' "$T/heads" || fail "no trickling connection was cut"
# cut at the header deadline (3 s; the watchdog looks four times a second),
# never left to live on one byte a second
awk '$1 == "cut" && $2 >= 2.9 { n++ } $2 > 6 { bad = 1 } END { exit !(n >= 20 && !bad) }' "$T/heads" ||
	{ sort -k2n "$T/heads" | tail >&2; fail "header tricklers were not cut at the 3 s deadline"; }
ok "connections trickling their headers are cut at --header-timeout ($(grep -c '^cut' "$T/heads") cut)"

# (alone: under the cap, a trickling body is also the first to make room)
python3 "$TRICKLE" "$MIRROR_PORT" --count 3 --sources 127.0.0.6 --body \
	--path /git/platform/deploy.git/git-upload-pack --report "$T/bodies" --seconds 7 ||
	fail "the body trickle failed"
awk '$1 == "cut" && $2 >= 2.9 && $2 <= 6 { n++ } $1 == "alive" { bad = 1 } END { exit !(n == 3 && !bad) }' "$T/bodies" ||
	{ cat "$T/bodies" >&2; fail "body tricklers were not cut at the 3 s deadline"; }
ok "connections trickling a request body are cut at --body-timeout"
