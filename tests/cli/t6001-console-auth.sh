#!/usr/bin/env bash
# ferry console against a site built by the test (two channels, a rejected
# bundle, an inbox waiting on a volume, three stacks in different states),
# driven with curl: every page needs a login and shows the site; a viewer
# reads but cannot act (the server refuses, whatever the page shows); an
# operator's sync and suspend need the CSRF token, a same-origin form, a
# reason and a confirmation, go through the reconciler daemon and are
# recorded with the operator as actor and the reason; a session id planted
# before the login is never taken over; logout ends the session; password
# guessing is refused past five failures, even with the right password.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq curl
. "$SRC/tests/lib/deploy-fixture.sh"
. "$SRC/tests/lib/console-fixture.sh"
console_site
console_start
U=$CURL_URL

# code [CURL ARGS...] URL: the status code; the body in $T/body, headers in $T/headers
code() { curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"; }
# login JAR USER PASSWORD: the status code of the login
login() { code -c "$1" -b "$1" --data-urlencode "user=$2" --data-urlencode "password=$3" "$U/login"; }
# csrf JAR PATH: the CSRF token in the page at PATH
csrf() {
	curl -s -b "$1" "$U$2" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1
}
events() { jq -s "map(select($1)) | length" "$AUDIT"; }
body_has() { grep -qF -- "$1" "$T/body" || { cat "$T/body" >&2; fail "the page lacks '$1'"; }; }

# ---- without a login --------------------------------------------------------
[ "$(code "$U/")" = 303 ] && grep -qi '^location: /login' "$T/headers" ||
	fail "a page without a login is not sent to /login"
[ "$(code -d 'csrf=x&reason=r&confirm=yes' "$U/stacks/prod/sync")" = 401 ] ||
	fail "an action without a session was not refused with 401"
[ "$(code "$U/healthz")" = 200 ] || fail "healthz"
[ "$(code "$U/login")" = 200 ] && body_has 'name="password"'
grep -qi "^content-security-policy: default-src 'none'" "$T/headers" || fail "no CSP: $(cat "$T/headers")"
grep -qi '^x-frame-options: DENY' "$T/headers" || fail "the login page may be framed"
ok "without a login: pages redirect to /login, actions are refused, headers forbid frames and scripts"

# ---- wrong password, then a viewer ------------------------------------------
[ "$(login "$T/v" vera wrong)" = 401 ] || fail "a wrong password was accepted"
body_has "Wrong user name or password"
[ "$(login "$T/v" nobody look)" = 401 ] || fail "an unknown user was accepted"
[ "$(login "$T/v" vera look)" = 303 ] || fail "vera cannot log in"
grep -qi '^set-cookie: ferry_console=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict' "$T/headers" ||
	fail "session cookie: $(grep -i set-cookie "$T/headers")"
for p in / /store /stacks /stacks/web /stacks/prod /stacks/broken /audit; do
	[ "$(code -b "$T/v" "$U$p")" = 200 ] || fail "vera cannot read $p"
	grep -q '<script' "$T/body" && fail "$p carries a script"
done
[ "$(code -b "$T/v" "$U/")" = 200 ]
body_has '<td>c</td>'; body_has '<td>files</td>'
body_has 'signature threshold 1 not met'
body_has 'waiting for volumes'
body_has '&lt;img src=x onerror=alert(1)&gt;.tar'
grep -q '<img' "$T/body" && fail "a file name from the inbox reached the page as markup"
grep -q '<b>1</b>in sync' "$T/body" && grep -q '<b>1</b>out of sync' "$T/body" &&
	grep -q '<b>1</b>failed' "$T/body" || fail "stack counts: $(grep -o '<b>[0-9]*</b>[a-z ]*' "$T/body")"
[ "$(code -b "$T/v" "$U/store")" = 200 ]
body_has 'tools/files:v1'; body_has 'refs/heads/main'
[ "$(code -b "$T/v" "$U/stacks/broken")" = 200 ]
body_has "path &#39;nowhere&#39; does not exist"
body_has 'Acting on a stack needs the operator role'
grep -q 'action="/stacks/' "$T/body" && fail "a viewer is shown action forms"
[ "$(code -b "$T/v" "$U/stacks/nope")" = 404 ] || fail "an unknown stack is not 404"
# no daemon runs yet: the console plans by itself
[ "$(code -b "$T/v" "$U/stacks/prod/plan")" = 200 ] || fail "the plan of prod"
body_has '+kind: Deployment'; body_has 'unchecked'
ok "a viewer reads every page: channels, the rejection, the inbox's wait, stack states, the store; no action form"

VTOKEN=$(csrf "$T/v" /stacks/prod)
[ ${#VTOKEN} = 64 ] || fail "no CSRF token on vera's page"
[ "$(code -b "$T/v" --data-urlencode "csrf=$VTOKEN" --data-urlencode 'reason=try' -d confirm=yes \
	"$U/stacks/prod/sync")" = 403 ] || fail "a viewer's sync was not refused"
body_has "needs the operator role"
[ "$(events '.stack == "prod"')" = 0 ] || fail "a viewer's sync reached the reconciler"
grep -q '"user":"vera","outcome":"refused","detail":"the viewer role may not act"' "$T/console.log" ||
	fail "the refusal is not logged: $(cat "$T/console.log")"
ok "a viewer's action is refused by the server (403) with its valid CSRF token, and logged"

# ---- session fixation -------------------------------------------------------
PLANTED=$(printf 'a%.0s' $(seq 64))
printf '127.0.0.1\tFALSE\t/\tFALSE\t0\tferry_console\t%s\n' "$PLANTED" >"$T/o"
[ "$(login "$T/o" otto act)" = 303 ] || fail "otto cannot log in"
NEW=$(sed -n 's/^[Ss]et-[Cc]ookie: ferry_console=\([0-9a-f]*\);.*/\1/p' "$T/headers")
[ ${#NEW} = 64 ] && [ "$NEW" != "$PLANTED" ] || fail "the login kept the planted session id"
[ "$(code -b "ferry_console=$PLANTED" "$U/")" = 303 ] || fail "the planted session id opens pages"
ok "session fixation: the login issues a fresh id; the planted one opens nothing"

# ---- an operator's actions ----------------------------------------------------
OTOKEN=$(csrf "$T/o" /stacks/prod)
[ ${#OTOKEN} = 64 ] && [ "$OTOKEN" != "$VTOKEN" ] || fail "otto's CSRF token"
act() { # STACK ACTION [CURL ARGS...]
	local s=$1 a=$2; shift 2
	code -b "$T/o" "$@" "$U/stacks/$s/$a"
}
[ "$(act prod sync --data-urlencode 'reason=CHG-1' -d confirm=yes)" = 403 ] ||
	fail "a sync without a CSRF token was not refused"
[ "$(act prod sync -d "csrf=$VTOKEN" --data-urlencode 'reason=CHG-1' -d confirm=yes)" = 403 ] ||
	fail "a sync with another session's CSRF token was not refused"
[ "$(act prod sync -H 'Origin: http://evil.example' -d "csrf=$OTOKEN" \
	--data-urlencode 'reason=CHG-1' -d confirm=yes)" = 403 ] || fail "a cross-origin form was not refused"
[ "$(act prod sync -d "csrf=$OTOKEN" -d confirm=yes)" = 400 ] || fail "a sync without a reason"
[ "$(act prod sync -d "csrf=$OTOKEN" --data-urlencode $'reason=a\x1b[2Kb' -d confirm=yes)" = 400 ] ||
	fail "a reason with an escape sequence was taken"
[ "$(act prod sync -d "csrf=$OTOKEN" --data-urlencode 'reason=CHG-1')" = 400 ] ||
	fail "a sync without the confirmation"
[ "$(act prod sync -d "csrf=$OTOKEN" --data-urlencode 'reason=CHG-1' -d confirm=yes)" = 503 ] ||
	fail "a sync without a daemon"
body_has "No reconciler daemon runs"
[ "$(events '.stack == "prod"')" = 0 ] || fail "a refused action reached the reconciler"
ok "CSRF (missing, another session's), cross-origin, no reason, a hostile reason, no confirmation: each refused; no daemon: 503"

"${R[@]}" run -v >"$T/daemon.out" 2>"$T/daemon.log" &
DAEMON=$!
at_exit 'kill $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null'
for _ in $(seq 1 100); do [ -S "$T/store/reconcile/control.sock" ] && break; sleep 0.1; done
[ -S "$T/store/reconcile/control.sock" ] || { cat "$T/daemon.log" >&2; fail "the daemon did not start"; }
[ "$(stat -c '%a %G' "$T/store/reconcile/control.sock")" = "660 $CONTROL_GROUP" ] &&
	[ "$(stat -c '%a %G' "$T/store/reconcile")" = "710 $CONTROL_GROUP" ] ||
	fail "control-group: $(stat -c '%n %a %G' "$T/store/reconcile" "$T/store/reconcile/control.sock")"
[ "$(act prod sync -H "Origin: $U" -d "csrf=$OTOKEN" --data-urlencode 'reason=CHG-1234 approved by CAB' \
	-d confirm=yes)" = 200 ] || { cat "$T/body" >&2; fail "otto's sync of prod"; }
body_has 'prod: applied'
jq -s -e 'map(select(.stack == "prod" and .trigger == "manual" and .outcome == "applied"
	and .actor == "operator:otto" and .reason == "CHG-1234 approved by CAB")) | length == 1' "$AUDIT" >/dev/null ||
	fail "the sync's audit event: $(jq -c 'select(.stack == "prod")' "$AUDIT")"
[ "$(act web suspend -d "csrf=$OTOKEN" --data-urlencode 'reason=freeze for INC-42' -d confirm=yes)" = 200 ] ||
	{ cat "$T/body" >&2; fail "otto's suspend of web"; }
jq -s -e 'map(select(.stack == "web" and .outcome == "suspended" and .actor == "operator:otto"
	and .reason == "freeze for INC-42")) | length == 1' "$AUDIT" >/dev/null ||
	fail "the suspension's audit event: $(jq -c 'select(.stack == "web")' "$AUDIT")"
"${R[@]}" status --json >"$T/status.json"
jq -e '.[] | select(.stack == "web") | .suspended and .suspension.actor == "operator:otto"' "$T/status.json" >/dev/null ||
	fail "web is not suspended by otto: $(cat "$T/status.json")"
[ "$(code -b "$T/o" "$U/stacks/web")" = 200 ]; body_has 'freeze for INC-42'; body_has 'action="/stacks/web/resume"'
[ "$(code -b "$T/o" "$U/audit.jsonl?stack=prod")" = 200 ] || fail "the audit export"
jq -e -s 'map(select(.actor == "operator:otto" and .reason == "CHG-1234 approved by CAB")) | length == 1' "$T/body" >/dev/null ||
	fail "the export lacks otto's sync: $(cat "$T/body")"
[ "$(code -b "$T/o" "$U/audit?outcome=suspended")" = 200 ]; body_has 'reason: freeze for INC-42'
grep -q '"user":"otto","outcome":"ok","detail":"sync"' "$T/console.log" || fail "the action is not logged"
ok "an operator's sync and suspend run through the daemon, recorded with actor operator:otto and the reason; the audit page and export show them"

# a second revision of the deploy repository arrives; prod is synced to it,
# then rolled back to the first through the console
FIRST=$(git -C "$T/work" rev-parse HEAD)
sed -i 's/name: app}/name: app, annotations: {rev: "2"}}/' "$T/work/app/deployment.yaml"
git -C "$T/work" commit -qam two && git -C "$T/work" push -q origin main 2>/dev/null
mkdir -p "$T/bundles2"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles2" --state "$T/state.db" \
	--cache "$T/cache" >/dev/null || fail "export of the second revision"
"$FERRY" import -q --store "$T/store" "$T"/bundles2/*.tar || fail "import of the second revision"
SECOND=$(git -C "$T/work" rev-parse HEAD)
[ "$(code -b "$T/o" "$U/stacks/prod/plan")" = 200 ] || fail "the plan of prod"
body_has 'rev: &quot;2&quot;'
[ "$(act prod sync -d "csrf=$OTOKEN" --data-urlencode 'reason=CHG-2' -d confirm=yes)" = 200 ] ||
	{ cat "$T/body" >&2; fail "the sync to the second revision"; }
[ "$(act prod rollback -d "csrf=$OTOKEN" --data-urlencode 'to=zz' --data-urlencode 'reason=INC-7' \
	-d confirm=yes)" = 400 ] || fail "a malformed rollback revision was taken"
[ "$(act prod rollback -d "csrf=$OTOKEN" --data-urlencode "to=${FIRST:0:12}" \
	--data-urlencode 'reason=INC-7 bad release' -d confirm=yes)" = 200 ] ||
	{ cat "$T/body" >&2; fail "the rollback of prod"; }
jq -s -e --arg first "$FIRST" 'map(select(.stack == "prod" and .trigger == "rollback" and
	.actor == "operator:otto" and .reason == "INC-7 bad release" and .revision == $first)) | length == 1' \
	"$AUDIT" >/dev/null || fail "the rollback's event: $(jq -c 'select(.stack == "prod")' "$AUDIT")"
"${R[@]}" status --json >"$T/status.json"
# (auto-sync is off on prod: nothing moves it on, so no hold is needed)
jq -e --arg first "$FIRST" '.[] | select(.stack == "prod") | .applied == $first' \
	"$T/status.json" >/dev/null || fail "prod is not at the first revision: $(cat "$T/status.json")"
[ "$(code -b "$T/o" "$U/audit?channel=c&kind=import")" = 200 ]
[ "$(grep -o '<td>import</td><td>import</td><td>c</td>' "$T/body" | wc -l)" = 2 ] && ! grep -q '<td>files</td>' "$T/body" || fail "the channel filter: $(grep -o '<td>import</td><td>[a-z]*</td><td>[a-z]*' "$T/body")"
[ "$(code -b "$T/o" "$U/audit.jsonl?since=2099-01-01")" = 200 ] && [ ! -s "$T/body" ] ||
	fail "a filter in the future exported events"
[ "$(code -b "$T/o" "$U/audit.jsonl?since=yesterday")" = 400 ] || fail "a malformed since was taken"
[ "$(code -b "$T/o" "$U/audit?since=yesterday")" = 200 ] && body_has 'nothing is shown' &&
	! grep -q 'CHG-1234' "$T/body" || fail "the audit page showed events for a malformed since"
ok "a rollback to an earlier revision through the console, recorded with the reason; the audit filters by channel and time"

# ---- logout -----------------------------------------------------------------
[ "$(code -b "$T/o" -c "$T/o" -d "csrf=$OTOKEN" "$U/logout")" = 303 ] || fail "logout"
[ "$(code -b "ferry_console=$NEW" "$U/")" = 303 ] || fail "the session outlived the logout"
ok "logout ends the session on the server"

# ---- password guessing --------------------------------------------------------
# from an address of its own (127.0.0.3): this one already failed twice above
guess() { code --interface 127.0.0.3 --data-urlencode "user=$1" --data-urlencode "password=$2" "$U/login"; }
for i in 1 2 3 4 5; do [ "$(guess otto "guess$i")" = 401 ] || fail "guess $i"; done
[ "$(guess otto act)" = 429 ] || fail "the right password after five failures was not throttled"
grep -qi '^retry-after: [1-9]' "$T/headers" || fail "no Retry-After: $(cat "$T/headers")"
[ "$(guess vera look)" = 429 ] || fail "the guessing address may still try other names"
[ "$(code --interface 127.0.0.2 -d 'user=otto&password=act' "$U/login")" = 429 ] ||
	fail "the guessed name may still be tried from another address"
[ "$(code --interface 127.0.0.2 -d 'user=vera&password=look' "$U/login")" = 303 ] ||
	fail "another user from another address is locked out"
[ "$(grep -c '"outcome":"throttled"' "$T/console.log")" -ge 3 ] || fail "throttling is not logged"
# ten guesses at once from a fresh address: each counts before its password
# is checked, so no more than five are judged
pids=()
for i in $(seq 1 10); do
	curl -s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.4 \
		-d "user=par$i&password=guess" "$U/login" >"$T/par.$i" &
	pids+=($!)
done
wait "${pids[@]}"
[ "$(cat "$T"/par.* | grep -c 401)" -le 5 ] && [ "$(cat "$T"/par.* | grep -c 429)" -ge 5 ] ||
	fail "parallel guesses: $(cat "$T"/par.* | sort | uniq -c | tr '\n' ' ')"
ok "brute force: five failures lock the address and the name out (429, Retry-After), others still log in; parallel guesses gain nothing"

# ---- TLS ------------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" -out "$T/tls.pem" 2>/dev/null ||
	fail "openssl req"
"$FERRY" console --store "$T/store" --config "$T/r.yaml" --listen 127.0.0.1:0 \
	--port-file "$T/tls.port" --operators "$T/operators" --tls-cert "$T/tls.pem" \
	--tls-key "$T/tls.key" 2>"$T/tls.err" &
TLS_CONSOLE=$!
at_exit 'kill $TLS_CONSOLE 2>/dev/null; wait $TLS_CONSOLE 2>/dev/null'
for _ in $(seq 1 100); do [ -s "$T/tls.port" ] && break; sleep 0.05; done
[ -s "$T/tls.port" ] || { cat "$T/tls.err" >&2; fail "the TLS console did not start"; }
TU=https://127.0.0.1:$(cat "$T/tls.port")
[ "$(code --cacert "$T/tls.pem" -d 'user=otto&password=act' "$TU/login")" = 303 ] || fail "login over TLS"
grep -qi '^set-cookie: ferry_console=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict; Secure' "$T/headers" ||
	fail "the cookie over TLS is not Secure: $(grep -i set-cookie "$T/headers")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$T/tls.port")/login")" != 200 ] ||
	fail "the TLS console answered plain HTTP"
grep -q "serving '$T/store' on https://127.0.0.1:" "$T/tls.err" || fail "$(cat "$T/tls.err")"
ok "with TLS: the session cookie is Secure, plain HTTP gets no page"
