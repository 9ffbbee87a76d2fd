#!/usr/bin/env bash
# Health and metrics on the daemon's listener, scraped with curl: /healthz,
# /readyz once every stack had a cycle, /metrics in the Prometheus text
# format with per-stack outcome counters, last success, drift and
# suspended gauges, the apply duration histogram and the webhook's
# requests by result, moving after a failed sync, a webhook, a reload that
# repairs the failing stack, and a suspend. The kubernetes target runs
# with dry-run.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq curl

. "$SRC/tests/lib/deploy-fixture.sh"
deploy_git_init
deploy_manifest "$T/work/app/deployment.yaml"
mkdir -p "$T/work/latest"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: loose}\nspec: {containers: [{name: c, image: "mirror.local/library/busybox:latest"}]}\n' \
	>"$T/work/latest/pod.yaml"
deploy_store
printf 'stack-secret\n' >"$T/good.secret"

config() { # REQUIRE-DIGESTS-OF-BAD
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
  - name: bad
    source: {git: deploy, branch: main, path: latest}
    target: kubernetes
    policy: {interval: 1h, require-digests: $1}
CFG
}
config true
R=("$FERRY" reconcile --config "$T/r.yaml")
deploy_daemon

# get PATH: the status code; the body in $T/body
get() { curl -s -o "$T/body" -w '%{http_code}' "$URL$1"; }
# metric NAME{LABELS}: its value in the last scrape
metric() {
	awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print "missing" }' "$T/metrics"
}
scrape() {
	[ "$(get /metrics)" = 200 ] || fail "/metrics: $(cat "$T/body")"
	cp "$T/body" "$T/metrics"
}
# expect_metric NAME{LABELS} VALUE
expect_metric() {
	[ "$(metric "$1")" = "$2" ] || { cat "$T/metrics" >&2; fail "$1 is $(metric "$1"), expected $2"; }
}
wait_metric() { # NAME{LABELS} VALUE
	for _ in $(seq 1 200); do scrape; [ "$(metric "$1")" = "$2" ] && return 0; sleep 0.05; done
	expect_metric "$1" "$2"
}

[ "$(get /healthz)" = 200 ] || fail "/healthz"
for _ in $(seq 1 200); do [ "$(get /readyz)" = 200 ] && break; sleep 0.05; done
[ "$(get /readyz)" = 200 ] || fail "/readyz never became ready: $(cat "$T/body")"
scrape
curl -s -D "$T/headers" -o /dev/null "$URL/metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers" || fail "content type: $(cat "$T/headers")"
grep -q '^# TYPE ferry_reconcile_sync_total counter$' "$T/metrics" || fail "no TYPE line"
expect_metric 'ferry_reconcile_stacks' 2
expect_metric 'ferry_reconcile_sync_total{stack="good",outcome="applied"}' 1
expect_metric 'ferry_reconcile_sync_total{stack="bad",outcome="failed"}' 1
expect_metric 'ferry_reconcile_sync_total{stack="bad",outcome="applied"}' 0
expect_metric 'ferry_reconcile_last_success_timestamp_seconds{stack="bad"}' 0
[ "$(metric 'ferry_reconcile_last_success_timestamp_seconds{stack="good"}')" -ge "$(($(date +%s) - 60))" ] ||
	fail "good's last success: $(metric 'ferry_reconcile_last_success_timestamp_seconds{stack="good"}')"
expect_metric 'ferry_reconcile_apply_duration_seconds_count{stack="good"}' 1
expect_metric 'ferry_reconcile_apply_duration_seconds_bucket{stack="good",le="+Inf"}' 1
expect_metric 'ferry_reconcile_apply_duration_seconds_count{stack="bad"}' 1
expect_metric 'ferry_reconcile_drift{stack="good"}' 0
expect_metric 'ferry_reconcile_suspended{stack="good"}' 0
expect_metric 'ferry_reconcile_webhook_requests_total{result="accepted"}' 0
ok "/healthz and /readyz answer 200; /metrics counts the applied and the failed sync, last success and apply durations"

# ---- webhooks by result --------------------------------------------------------
post() { curl -s -o /dev/null -w '%{http_code}' -X POST "$@"; }
[ "$(post -H 'Authorization: Bearer wrong' "$URL/hooks/stacks/good")" = 401 ] || fail "wrong token"
[ "$(post "$URL/hooks/stacks/nope")" = 404 ] || fail "unknown stack"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/hooks/import")" = 405 ] || fail "GET on a hook"
[ "$(post -H 'Authorization: Bearer stack-secret' "$URL/hooks/stacks/good")" = 202 ] || fail "right token"
wait_metric 'ferry_reconcile_sync_total{stack="good",outcome="unchanged"}' 1
expect_metric 'ferry_reconcile_webhook_requests_total{result="accepted"}' 1
expect_metric 'ferry_reconcile_webhook_requests_total{result="unauthorized"}' 1
expect_metric 'ferry_reconcile_webhook_requests_total{result="not_found"}' 1
expect_metric 'ferry_reconcile_webhook_requests_total{result="method_not_allowed"}' 1
ok "webhook requests are counted by result, and the cycle a webhook asked for is counted"

# ---- the failing stack repaired by a reload, then suspended -------------------
config false
expect_exit 0 "${R[@]}" reload
wait_metric 'ferry_reconcile_sync_total{stack="bad",outcome="applied"}' 1
expect_metric 'ferry_reconcile_sync_total{stack="bad",outcome="failed"}' 1
expect_metric 'ferry_reconcile_config_reloads_total{result="accepted"}' 1
[ "$(metric 'ferry_reconcile_last_success_timestamp_seconds{stack="bad"}')" -gt 0 ] || fail "bad's last success did not move"
expect_metric 'ferry_reconcile_apply_duration_seconds_count{stack="bad"}' 2
expect_exit 0 "${R[@]}" suspend bad --reason maintenance
scrape
expect_metric 'ferry_reconcile_suspended{stack="bad"}' 1
expect_metric 'ferry_reconcile_suspended{stack="good"}' 0
ok "after a reload repairs the failed stack its counters and last success move; suspend sets its gauge"
