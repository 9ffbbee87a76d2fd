#!/usr/bin/env bash
# Operating a running daemon: a reload (`ferry reconcile reload`, SIGHUP)
# with an added, a removed and a changed stack takes effect without a
# restart and records each as an event; a broken config is rejected with
# its error and the running one kept; a second daemon on the same state
# directory refuses to start; `suspend` holds a stack across a restart and
# its polls, `down` stays down, `resume` lets the polls back in. The
# kubernetes target runs with dry-run, so no cluster is needed.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq

. "$SRC/tests/lib/deploy-fixture.sh"
deploy_app_store

# config STACK-LINES...: the config with these stacks
config() {
	{ printf 'store: %s\naudit-log: %s\nkubernetes: {dry-run: true}\nstacks:\n' "$T/store" "$AUDIT"
	  printf '  - %s\n' "$@"; } >"$T/r.yaml"
}
stack() { # NAME INTERVAL [EXTRA-POLICY]
	printf '{name: %s, source: {git: deploy, branch: main, path: app}, target: kubernetes, policy: {interval: %s%s}}' \
		"$1" "$2" "${3:+, $3}"
}
R=("$FERRY" reconcile --config "$T/r.yaml")
AUDIT=$T/audit.jsonl   # every command on the config appends its events here
: >"$AUDIT"
start_daemon() {
	"${R[@]}" run -v 2>>"$T/daemon.log" &
	DAEMON=$!
}
stop_daemon() { kill "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; }
at_exit stop_daemon
# events FILTER: how many audit events match the jq FILTER
events() { jq -s "map(select($1)) | length" "$AUDIT"; }
# wait_for FILTER [N]: until at least N (1) events match
wait_for() {
	local _
	for _ in $(seq 1 200); do [ "$(events "$1")" -ge "${2:-1}" ] && return 0; sleep 0.05; done
	cat "$T/daemon.log" >&2; jq -c . "$AUDIT" >&2; fail "no event matching '$1'"
}

config "$(stack keep 1h)" "$(stack gone 1h)" "$(stack tune 1h)"
expect_exit 1 "${R[@]}" reload
expect_err "no reconciler daemon runs on '$T/store/reconcile'"
start_daemon
for s in keep gone tune; do wait_for ".stack == \"$s\" and .outcome == \"applied\" and .trigger == \"poll\""; done
expect_exit 1 "${R[@]}" run
expect_err "a reconciler daemon (pid $DAEMON) already runs on '$T/store/reconcile'"
ok "a running daemon applies its stacks; reload without a daemon and a second daemon are refused"

# ---- added, removed, changed ------------------------------------------------
config "$(stack keep 1h)" "$(stack tune 1h 'always-apply: true')" "$(stack fresh 1h)"
expect_exit 0 "${R[@]}" reload
expect_out "asked the daemon (pid $DAEMON) to reload"
wait_for '.trigger == "reload" and .stack == "fresh" and .outcome == "config-added"'
wait_for '.trigger == "reload" and .stack == "gone" and .outcome == "config-removed"'
wait_for '.trigger == "reload" and .stack == "tune" and .outcome == "config-changed"'
wait_for '.trigger == "reload" and .stack == "fresh" and .outcome == "applied"'
wait_for '.trigger == "reload" and .stack == "tune" and .outcome == "applied"'
[ "$(events '.trigger == "reload" and .stack == "keep"')" = 0 ] || fail "the unchanged stack was touched by the reload"
[ "$(events '.trigger == "reload" and (.actor | startswith("operator:") | not)')" = 0 ] ||
	fail "reload events name another actor than the operator"
kill -0 "$DAEMON" || fail "the daemon did not survive the reload"
ok "reload: the added stack is applied, the removed one forgotten, the changed one re-applied, the others untouched"

# ---- broken -----------------------------------------------------------------
cp "$T/r.yaml" "$T/good.yaml"
printf 'store: %s\naudit-log: %s\nstacks:\n  - {name: x, source: {git: deploy, branch: main}, colour: blue}\n' "$T/store" "$AUDIT" >"$T/r.yaml"
kill -HUP "$DAEMON"
wait_for '.trigger == "reload" and .stack == "*" and .outcome == "config-rejected"'
jq -s -e 'map(select(.outcome == "config-rejected"))[0].error | contains("r.yaml:4")' "$AUDIT" >/dev/null ||
	fail "the rejection does not name the line: $(jq -s -c 'map(select(.outcome == "config-rejected"))' "$AUDIT")"
grep -q "reload rejected, keeping the running config" "$T/daemon.log" || fail "the rejection is not logged"
# the running config is the last good one: this reload changes keep only
cp "$T/good.yaml" "$T/r.yaml"
config "$(stack keep 1s)" "$(stack tune 1h 'always-apply: true')" "$(stack fresh 1h)"
expect_exit 0 "${R[@]}" reload
wait_for '.trigger == "reload" and .stack == "keep" and .outcome == "config-changed"'
sleep 0.5
[ "$(events '.outcome == "config-added" or .outcome == "config-removed"')" = 2 ] ||
	fail "the broken config replaced the running one: $(jq -s -c 'map(select(.trigger == "reload"))' "$AUDIT")"
ok "a broken config is rejected with its file and line, audited and logged; the running config is kept"

# ---- suspend survives a restart and polls; down stays down --------------------
expect_exit 0 "${R[@]}" suspend tune --reason "incident 7"
wait_for '.trigger == "suspend" and .stack == "tune" and .outcome == "suspended" and .detail == "incident 7" and (.actor | startswith("operator:"))'
expect_exit 0 "${R[@]}" down fresh
expect_out "suspended: 'ferry reconcile resume fresh'"
config "$(stack keep 1s)" "$(stack tune 1s 'always-apply: true')" "$(stack fresh 1s)"
stop_daemon
start_daemon
# the new daemon notices the intervals edited while it was down first
wait_for '.stack == "tune" and .outcome == "config-changed" and .actor == "ferry-reconciler"'
wait_for '.stack == "keep" and .trigger == "poll"' 3
before_tune=$(events '.stack == "tune" and (.trigger == "poll" or .trigger == "reload")')
sleep 2.5
[ "$(events '.stack == "tune" and (.trigger == "poll" or .trigger == "reload")')" = "$before_tune" ] ||
	fail "the suspended stack was polled"
[ "$(events '.stack == "fresh" and .outcome == "applied"')" = 1 ] ||
	fail "the stack that was down was applied again: $(jq -s -c 'map(select(.stack == "fresh"))' "$AUDIT")"
"${R[@]}" status --json >"$T/status.json" || fail status
jq -e '.[] | select(.stack == "tune") | .suspended and .suspension.reason == "incident 7"' "$T/status.json" >/dev/null ||
	fail "status does not show the suspension: $(cat "$T/status.json")"
jq -e '.[] | select(.stack == "fresh") | .suspended and .suspension.reason == "down"' "$T/status.json" >/dev/null ||
	fail "status does not show the down stack suspended: $(cat "$T/status.json")"
jq -e '.[] | select(.stack == "keep") | .suspended == false and .suspension == null' "$T/status.json" >/dev/null ||
	fail "status: $(cat "$T/status.json")"
"${R[@]}" status >"$T/status.txt" || fail status
grep -q "^tune .*(suspended by operator:[^:]*: incident 7)" "$T/status.txt" || fail "status text: $(cat "$T/status.txt")"
ok "suspend and down hold their stacks across a daemon restart and its polls; status shows who and why"

expect_exit 0 "${R[@]}" resume tune
expect_exit 1 "${R[@]}" resume tune
expect_err "stack 'tune' is not suspended"
wait_for '.trigger == "resume" and .stack == "tune" and .outcome == "resumed"'
wait_for '.stack == "tune" and .trigger == "poll" and .outcome == "unchanged"'
ok "resume lets the polls back in; resuming twice fails"

# ---- commands go through the running daemon ----------------------------------
before=$(events '.stack == "keep" and .trigger == "manual"')
expect_exit 0 "${R[@]}" sync keep
expect_out "keep: applied"
grep -q "control: sync from uid $(id -u)" "$T/daemon.log" || fail "sync did not go through the daemon"
[ "$(events '.stack == "keep" and .trigger == "manual" and (.actor | startswith("operator:"))')" = $((before + 1)) ] ||
	fail "the daemon's sync event: $(jq -s -c 'map(select(.trigger == "manual"))' "$AUDIT")"
cp "$T/r.yaml" "$T/running.yaml"
config "$(stack keep 1s)" "$(stack tune 1s 'always-apply: true')" "$(stack fresh 1s)" "$(stack later 1h)"
expect_exit 1 "${R[@]}" sync later
expect_err "the daemon runs no stack 'later'"
# a config this command reads well but the daemon must refuse
sed -i "s|^audit-log: .*|audit-log: $T/elsewhere.jsonl|" "$T/r.yaml"
expect_exit 1 "${R[@]}" reload
expect_err "'audit-log' changed from"
expect_err "restart the daemon to change it"
cp "$T/running.yaml" "$T/r.yaml"
kill -0 "$DAEMON" || fail "the daemon did not survive"
ok "sync, reload and suspend go through the daemon's control socket: its running config, the operator named, a bad reload refused with its error"

# ---- a config edited while no daemon ran ----------------------------------------
stop_daemon
changed_before=$(events '.stack == "tune" and .outcome == "config-changed" and .actor == "ferry-reconciler"')
keep_before=$(events '.stack == "keep" and .outcome == "config-changed"')
config "$(stack keep 1s)" "$(stack tune 1s 'always-apply: false')" "$(stack fresh 1s)"
start_daemon
wait_for '.stack == "tune" and .outcome == "config-changed" and .actor == "ferry-reconciler"' $((changed_before + 1))
wait_for '.stack == "tune" and .trigger == "reload" and .outcome == "applied" and .actor == "ferry-reconciler"'
wait_for '.stack == "keep" and .trigger == "poll"' 6
[ "$(events '.stack == "keep" and .outcome == "config-changed"')" = "$keep_before" ] ||
	fail "an unchanged stack was taken for changed at the start"
stop_daemon
start_daemon
wait_for '.stack == "keep" and .trigger == "poll"' 8
[ "$(events '.stack == "tune" and .outcome == "config-changed" and .actor == "ferry-reconciler"')" = $((changed_before + 1)) ] ||
	fail "a second start took the same definition for changed again"
ok "a stack whose definition changed while no daemon ran is applied again at the next start, once"
