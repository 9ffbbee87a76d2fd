#!/usr/bin/env bash
# The console in a real browser (Debian's headless Chromium through
# chromedriver): a viewer logs in with the form and reads every page, sees
# no action and is refused by the server when acting with its own session;
# an operator syncs a stack and suspends another through the pages' forms,
# and the audit events carry the operator and the reason. A screenshot of
# every page is kept in $FERRY_BUILD_DIR/test-artifacts/t6002-console-browser/.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq curl chromium chromedriver
. "$SRC/tests/lib/deploy-fixture.sh"
. "$SRC/tests/lib/console-fixture.sh"
. "$SRC/tests/lib/webdriver.sh"
console_site
console_start
U=$CURL_URL
"${R[@]}" run -v >"$T/daemon.out" 2>"$T/daemon.log" &
DAEMON=$!
at_exit 'kill $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null'
for _ in $(seq 1 100); do [ -S "$T/store/reconcile/control.sock" ] && break; sleep 0.1; done
[ -S "$T/store/reconcile/control.sock" ] || { cat "$T/daemon.log" >&2; fail "the daemon did not start"; }
wd_start

page_has() { # TEXT: the current page's HTML contains it
	wd_source >"$T/page.html"
	grep -qF -- "$1" "$T/page.html" || { sed 's/></>\n</g' "$T/page.html" | head -80 >&2; fail "$(wd_url) lacks '$1'"; }
}
log_in() { # USER PASSWORD
	wd_go "$U/"
	case $(wd_url) in */login) ;; *) fail "not sent to the login page: $(wd_url)" ;; esac
	wd_type 'input[name=user]' "$1"
	wd_type 'input[name=password]' "$2"
	wd_click 'button[type=submit]'
	[ "$(wd_title)" = "Overview · ferry console" ] || fail "$1's login: title '$(wd_title)'"
}
log_out() { wd_click 'header form button'; case $(wd_url) in */login) ;; *) fail "logout" ;; esac; }

# ---- a viewer ------------------------------------------------------------------
wd_go "$U/login"
wd_shot 01-login
log_in vera look
page_has '<td>c</td>'; page_has '<td>files</td>'
page_has 'signature threshold 1 not met'
page_has 'waiting for volumes'
page_has '<b>1</b>failed'
for p in store stacks stacks/broken audit; do
	wd_go "$U/$p"
	[ "$(wd_count 'main table')" -ge 1 ] || fail "/$p shows no table"
done
wd_go "$U/stacks/prod"
page_has 'Acting on a stack needs the operator role'
[ "$(wd_count 'form[action^="/stacks/"]')" = 0 ] || fail "a viewer is shown action forms"
# the server refuses too: the viewer's own session and CSRF token, posted by hand
COOKIE=$(wd_cookie ferry_console)
TOKEN=$(wd_source | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
[ ${#COOKIE} = 64 ] && [ ${#TOKEN} = 64 ] || fail "the viewer's session: '$COOKIE' '$TOKEN'"
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "ferry_console=$COOKIE" -H "Origin: $U" \
	-d "csrf=$TOKEN&reason=mine&confirm=yes" "$U/stacks/prod/sync")" = 403 ] ||
	fail "the server let a viewer sync"
[ "$(jq -s 'map(select(.stack == "prod" and .trigger == "manual")) | length' "$AUDIT")" = 0 ] || fail "a viewer's sync ran"
log_out
ok "a viewer logs in with the form, reads every page, sees no action, and the server refuses one"

# ---- an operator -----------------------------------------------------------------
log_in otto act
wd_shot 02-overview
wd_go "$U/store"; page_has 'tools/files:v1'; wd_shot 03-store
wd_go "$U/stacks"; page_has 'out of sync'; wd_shot 04-stacks
wd_go "$U/stacks/prod/plan"; page_has '+kind: Deployment'; wd_shot 05-plan
wd_go "$U/stacks/prod"; wd_shot 06-stack
wd_type '#sync-reason' 'CHG-1234 approved by CAB'
wd_check '#sync-confirm'
wd_click '#sync-submit'
page_has 'prod: applied'
wd_shot 07-sync-result
wd_go "$U/stacks/web"
wd_type '#suspend-reason' 'freeze for INC-42'
wd_check '#suspend-confirm'
wd_click '#suspend-submit'
page_has 'web: suspended'
jq -s -e 'map(select(.stack == "prod" and .trigger == "manual" and .outcome == "applied" and
	.actor == "operator:otto" and .reason == "CHG-1234 approved by CAB")) | length == 1' "$AUDIT" >/dev/null ||
	fail "the sync's event: $(jq -c 'select(.stack == "prod")' "$AUDIT")"
jq -s -e 'map(select(.stack == "web" and .outcome == "suspended" and .actor == "operator:otto" and
	.reason == "freeze for INC-42")) | length == 1' "$AUDIT" >/dev/null ||
	fail "the suspension's event: $(jq -c 'select(.stack == "web")' "$AUDIT")"
wd_go "$U/stacks/web"; page_has 'by operator:otto'; wd_shot 08-stack-suspended
wd_go "$U/audit"
wd_type 'input[name=stack]' prod
wd_click 'form.filters button'
case $(wd_url) in *stack=prod*) ;; *) fail "the filter did not apply: $(wd_url)" ;; esac
page_has 'reason: CHG-1234 approved by CAB'
wd_shot 09-audit
wd_go "$U/"; page_has '<b>1</b>suspended'
log_out
ok "an operator syncs and suspends through the forms; the events carry operator:otto and the reasons"

for f in "$WD_ARTIFACTS"/*.png; do
	[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '211PNG' ] && [ "$(stat -c %s "$f")" -gt 5000 ] ||
		fail "$f is not a screenshot"
done
[ "$(ls "$WD_ARTIFACTS"/*.png | wc -l)" = 9 ] || fail "screenshots: $(ls "$WD_ARTIFACTS")"
ok "a screenshot of every page in $WD_ARTIFACTS"
