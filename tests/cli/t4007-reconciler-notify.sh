#!/usr/bin/env bash
# Notifications of health changes: a stack that fails on every poll
# notifies exactly once per sink (a webhook whose HMAC-SHA256 signature the
# receiver checks, an RFC 5424 line to a UDP syslog receiver, and a command
# with the event in its environment), however many polls fail; the repair
# (a reload) notifies "recovered" once; a sink subscribed to other events
# hears nothing; a sink that cannot be reached is logged and counted, and
# does not stop the others. Receivers are python3 on 127.0.0.1.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq curl python3

. "$SRC/tests/lib/deploy-fixture.sh"
deploy_git_init
mkdir -p "$T/work/latest"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: loose}\nspec: {containers: [{name: c, image: "mirror.local/library/busybox:latest"}]}\n' \
	>"$T/work/latest/pod.yaml"
deploy_store
printf 'hook-secret\n' >"$T/hook.secret"

# ---- receivers ---------------------------------------------------------------
cat >"$T/recv.py" <<'PY'
import hashlib, hmac, http.server, json, socket, sys, threading
d = sys.argv[1]
secret = open(d + "/hook.secret").read().strip().encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers.get("X-Ferry-Signature-256", ""))
        ev = json.loads(body)
        with open(d + "/hooks.jsonl", "a") as f:
            f.write(json.dumps({"verified": ok, "header": self.headers.get("X-Ferry-Event"),
                                "body": ev}) + "\n")
        self.send_response(204 if ok else 401)
        self.end_headers()
    def log_message(self, *a):
        pass
web = http.server.HTTPServer(("127.0.0.1", 0), H)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 0))
with open(d + "/ports.tmp", "w") as f:
    f.write("%d %d\n" % (web.server_address[1], udp.getsockname()[1]))
import os; os.rename(d + "/ports.tmp", d + "/ports")
def syslog():
    while True:
        data = udp.recv(65536)
        with open(d + "/syslog.txt", "ab") as f:
            f.write(data + b"\n")
threading.Thread(target=syslog, daemon=True).start()
web.serve_forever()
PY
python3 "$T/recv.py" "$T" &
RECV=$!
at_exit 'kill $RECV 2>/dev/null; wait $RECV 2>/dev/null'
for _ in $(seq 1 100); do [ -s "$T/ports" ] && break; sleep 0.05; done
[ -s "$T/ports" ] || fail "the receivers did not start"
read -r HOOK_PORT SYSLOG_PORT <"$T/ports"
printf '#!/bin/sh\nprintf "%%s %%s %%s\\n" "$FERRY_EVENT" "$FERRY_STACK" "$FERRY_OUTCOME" >>"%s/command.txt"\nprintf "%%s\\n" "$FERRY_EVENT_JSON" >>"%s/command.jsonl"\n' \
	"$T" "$T" >"$T/hook.sh"
chmod +x "$T/hook.sh"

config() { # REQUIRE-DIGESTS
	cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
webhook: {listen: "127.0.0.1:0"}
notify:
  - webhook: http://127.0.0.1:$HOOK_PORT/ferry
    secret-file: hook.secret
  - syslog: udp://127.0.0.1:$SYSLOG_PORT
    events: [failed, refused, drift, recovered]
  - command: [$T/hook.sh]
  - command: [$T/never.sh]
    events: [drift]
  - webhook: http://127.0.0.1:1/unreachable
    events: [recovered]
stacks:
  - name: bad
    source: {git: deploy, branch: main, path: latest}
    target: kubernetes
    policy: {interval: 1s, require-digests: $1}
CFG
}
config true
R=("$FERRY" reconcile --config "$T/r.yaml")
deploy_daemon
failed_cycles() {
	curl -s "$URL/metrics" | awk '$1 == "ferry_reconcile_sync_total{stack=\"bad\",outcome=\"failed\"}" { print $2 }'
}
for _ in $(seq 1 200); do [ "$(failed_cycles)" -ge 4 ] 2>/dev/null && break; sleep 0.1; done
[ "$(failed_cycles)" -ge 4 ] || { cat "$T/daemon.log" >&2; fail "the stack did not fail 4 times: $(failed_cycles)"; }

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
[ "$(lines "$T/hooks.jsonl")" = 1 ] || fail "webhook notifications: $(cat "$T/hooks.jsonl" 2>/dev/null)"
jq -e '.verified and .header == "failed" and .body.event == "failed" and .body.stack == "bad" and
	.body.outcome == "failed" and (.body.message | test("digest")) and (.body.time | test("Z$"))' \
	"$T/hooks.jsonl" >/dev/null || fail "webhook body: $(cat "$T/hooks.jsonl")"
[ "$(lines "$T/syslog.txt")" = 1 ] || fail "syslog lines: $(cat "$T/syslog.txt" 2>/dev/null)"
grep -Eq '^<27>1 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [^ ]+ ferry-reconcile [0-9]+ failed - \{.*"stack":"bad".*\}$' "$T/syslog.txt" ||
	fail "syslog line: $(cat "$T/syslog.txt")"
[ "$(cat "$T/command.txt")" = "failed bad failed" ] || fail "command: $(cat "$T/command.txt")"
jq -e '.event == "failed"' "$T/command.jsonl" >/dev/null || fail "command json: $(cat "$T/command.jsonl")"
ok "$(failed_cycles) failed polls: one signed webhook, one RFC 5424 syslog line (err), one command run"

# ---- the repair notifies once ---------------------------------------------------
config false
expect_exit 0 "${R[@]}" reload
for _ in $(seq 1 200); do [ "$(lines "$T/hooks.jsonl")" -ge 2 ] && break; sleep 0.1; done
sleep 2.5   # more polls: nothing more may arrive
[ "$(lines "$T/hooks.jsonl")" = 2 ] || fail "webhook notifications: $(cat "$T/hooks.jsonl")"
tail -n 1 "$T/hooks.jsonl" | jq -e '.verified and .body.event == "recovered"' >/dev/null ||
	fail "recovered: $(tail -n 1 "$T/hooks.jsonl")"
[ "$(lines "$T/syslog.txt")" = 2 ] && tail -n 1 "$T/syslog.txt" | grep -q '^<29>1 .* recovered - ' ||
	fail "syslog: $(cat "$T/syslog.txt")"
[ "$(tail -n 1 "$T/command.txt")" = "recovered bad applied" ] || fail "command: $(cat "$T/command.txt")"
[ "$(lines "$T/command.txt")" = 2 ] || fail "command runs: $(cat "$T/command.txt")"
[ ! -e "$T/never.txt" ] || fail "a sink subscribed to drift only was told"
# The unreachable sink is tried with backoff (about 4 s) before it is logged.
unreachable='notify (config line [0-9]*, webhook http://127.0.0.1:1/unreachable): stack bad, event recovered not delivered'
for _ in $(seq 1 300); do grep -q "$unreachable" "$T/daemon.log" && break; sleep 0.1; done
grep -q "$unreachable" "$T/daemon.log" || { cat "$T/daemon.log" >&2; fail "the unreachable sink was not logged"; }
for _ in $(seq 1 50); do
	m=$(curl -s "$URL/metrics")
	grep -qx 'ferry_reconcile_notifications_total{result="failed"} 1' <<<"$m" && break
	sleep 0.1
done
grep -qx 'ferry_reconcile_notifications_total{result="sent"} 6' <<<"$m" &&
	grep -qx 'ferry_reconcile_notifications_total{result="failed"} 1' <<<"$m" ||
	fail "notification counters: $(grep notifications <<<"$m")"
ok "the repair notifies 'recovered' once per sink; other subscriptions hear nothing; an unreachable sink is logged and counted"

# ---- a restart carries the health on ------------------------------------------------
hooks_reach() { # N
	for _ in $(seq 1 150); do [ "$(lines "$T/hooks.jsonl")" -ge "$1" ] && break; sleep 0.1; done
	[ "$(lines "$T/hooks.jsonl")" = "$1" ] || fail "webhook notifications, want $1: $(cat "$T/hooks.jsonl")"
}
stop_daemon() {
	kill "$DAEMON"
	wait "$DAEMON" 2>/dev/null || true
	rm -f "$T/port"
}
restart() {
	stop_daemon
	deploy_daemon
}
# While the daemon is down, a new revision arrives that the policy refuses:
# every poll of the next daemon fails, and a restart does not repeat it.
stop_daemon
sed -i 's/name: loose}/name: loose, labels: {v: "2"}}/' "$T/work/latest/pod.yaml"
git -C "$T/work" commit -qam two && git -C "$T/work" push -q origin main 2>/dev/null
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache" >/dev/null
"$FERRY" import -q --store "$T/store" "$T"/bundles/*.tar
config true
deploy_daemon
hooks_reach 3
tail -n 1 "$T/hooks.jsonl" | jq -e '.body.event == "failed"' >/dev/null ||
	fail "failure: $(tail -n 1 "$T/hooks.jsonl")"
restart
for _ in $(seq 1 200); do [ "$(failed_cycles)" -ge 3 ] 2>/dev/null && break; sleep 0.1; done
[ "$(failed_cycles)" -ge 3 ] || { cat "$T/daemon.log" >&2; fail "the restarted daemon did not poll"; }
[ "$(lines "$T/hooks.jsonl")" = 3 ] || fail "a restart repeated the failure: $(tail -n 1 "$T/hooks.jsonl")"
config false
expect_exit 0 "${R[@]}" reload
hooks_reach 4
tail -n 1 "$T/hooks.jsonl" | jq -e '.body.event == "recovered"' >/dev/null ||
	fail "after a restart: $(tail -n 1 "$T/hooks.jsonl")"
ok "a restarted daemon does not repeat a failure it notified, and notifies the recovery"

# ---- the importer's rejections and alarms reach the same sinks ------------------------
printf 'not a bundle\n' >"$T/junk.tar"
expect_exit 2 "$FERRY" import --store "$T/store" "$T/junk.tar"
hooks_reach 5
tail -n 1 "$T/hooks.jsonl" | jq -e '.verified and .header == "import-rejected" and
	.body.event == "import-rejected" and .body.stack == null and .body.outcome == "rejected" and
	.body.channel == null and
	(.body.message | test("junk.tar"))' >/dev/null || fail "rejection: $(tail -n 1 "$T/hooks.jsonl")"
# The same channel and sequence with other content: an alarm.
mkdir -p "$T/other"
for _ in 1 2; do
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/other" \
		--state "$T/state2.db" --cache "$T/cache" >/dev/null
done
expect_exit 2 "$FERRY" import --store "$T/store" "$T"/other/*-000002.tar
expect_err "ALARM"
hooks_reach 6
tail -n 1 "$T/hooks.jsonl" | jq -e '.verified and .body.event == "import-alarm" and
	.body.channel == "c" and .body.sequence == 2 and (.body.bundle | length == 64) and
	(.body.message | test("ALARM"))' >/dev/null || fail "alarm: $(tail -n 1 "$T/hooks.jsonl")"
grep -q "^import-alarm  rejected$" "$T/command.txt" || fail "command: $(cat "$T/command.txt")"
[ "$(lines "$T/syslog.txt")" = 4 ] || fail "syslog took an event it is not subscribed to: $(cat "$T/syslog.txt")"
restart
sleep 3
[ "$(lines "$T/hooks.jsonl")" = 6 ] || fail "a restart repeated an import event: $(tail -n 1 "$T/hooks.jsonl")"
ok "an import's rejection and alarm notify once each (channel, sequence, bundle), not again after a restart"

# ---- the config refuses malformed sinks --------------------------------------------
bad() { # TEXT WANT
	printf 'stacks: []\nnotify:\n%s\n' "$1" >"$T/bad.yaml"
	expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" --store "$T/store" status
	expect_err "$2"
}
bad '  - {webhook: ftp://x}' "a notify webhook is an http:// or https:// URL"
bad '  - {syslog: "127.0.0.1:514"}' "syslog wants a socket path"
bad '  - {webhook: "http://x", syslog: /dev/log}' "not several"
bad '  - {events: [failed]}' "needs webhook, syslog or command"
bad '  - {webhook: "http://x", events: [boom]}' "unknown event"
bad '  - {syslog: /dev/log, secret-file: hook.secret}' "secret-file signs webhook notifications only"
bad '  - {command: /bin/true}' "a notify command is a list"
ok "malformed sinks are refused with the line"
