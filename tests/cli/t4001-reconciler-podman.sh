#!/usr/bin/env bash
# End to end on 127.0.0.1 with rootful podman: bundle 1 (a git repository
# with a Deployment + ConfigMap whose image travels in the same bundle) is
# imported and the reconciler deploys it (image pulled through the ferry
# mirror) so the pod answers on its hostPort; bundle 2 (new commit, new
# image digest) arrives through the importer's webhook within 5 s; a
# container removed by hand is restored (always-apply) or only reported
# (auto-sync off); a freeze file blocks the next sync; rollback restores the
# previous revision. Every step is checked in the audit stream and in podman.
. "$(dirname "$0")/../lib/test-lib.sh"
need skopeo jq curl umoci git python3
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/mirror.sh"
. "$SRC/tests/lib/git-server.sh"
. "$SRC/tests/lib/podman.sh"

MPORT=$(git_free_port)
WEB=$(git_free_port)
MAN=$(git_free_port)
podman_setup "127.0.0.1:$MPORT"

# ---- connected side: two images, a repository of manifests -----------------
make_oci_layout "$T/l1" 16 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
make_oci_layout "$T/l2" 16 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
digest_of() { jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$1/index.json"; }
D1=$(digest_of "$T/l1")
D2=$(digest_of "$T/l2")
[ "$D1" != "$D2" ] || fail "fixtures share a digest"

export HOME=$T/home GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "Test" && git config --global user.email test@example.com
git init -q --bare -b main "$T/deploy.git"
git clone -q "$T/deploy.git" "$T/work" 2>/dev/null

# write_app DIR NAME PORT DIGEST TEXT
write_app() {
	mkdir -p "$T/work/$1"
	cat >"$T/work/$1/configmap.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: $2-content}
data:
  index.html: "$5"
YAML
	cat >"$T/work/$1/deployment.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $2
  labels: {app: $2}
spec:
  replicas: 1
  selector: {matchLabels: {app: $2}}
  template:
    metadata: {labels: {app: $2}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: 127.0.0.1:$MPORT/library/app@$4
        # busybox httpd as PID 1 ignores SIGTERM: without the trap each
        # replace would wait for podman's stop timeout
        command: ["/bin/sh", "-c", "trap 'exit 0' TERM; /bin/busybox httpd -f -p 8080 -h /www & wait"]
        ports: [{containerPort: 8080, hostPort: $3, hostIP: 127.0.0.1}]
        volumeMounts: [{name: content, mountPath: /www}]
      volumes:
      - name: content
        configMap: {name: $2-content}
YAML
}
commit() { git -C "$T/work" add -A && git -C "$T/work" commit -qm "$1" && git -C "$T/work" push -q origin main 2>/dev/null; git -C "$T/work" rev-parse HEAD; }

"$FERRY" keygen -o "$T/key" >/dev/null
cat >"$T/spec.yaml" <<SPEC
channel: site
sources:
  - oci-layout: $T/img
    name: library/app
  - git: $T/deploy.git
SPEC
n=0
export_bundle() { # LAYOUT
	rm -rf "$T/img" && cp -a "$1" "$T/img"
	mkdir -p "$T/bundles"
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" --state "$T/state.db" \
		--cache "$T/cache" >/dev/null || fail "export"
	n=$((n + 1))
	ls "$T"/bundles/*.tar | sort | tail -n 1
}

# ---- enclave: store, mirror, reconciler ------------------------------------
"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
"$FERRY" mirror serve --store "$T/store" --listen "127.0.0.1:$MPORT" 2>"$T/mirror.log" &
MIRROR_PID=$!
at_exit mirror_stop
printf 'import-token-%s\n' "$RANDOM$RANDOM" >"$T/import.token"
printf 'stack-secret-%s\n' "$RANDOM$RANDOM" >"$T/web.secret"
# write_config WEB-INTERVAL: the web stack polls at WEB-INTERVAL (the
# manual one every second)
write_config() {
	cat >"$T/reconcile.yaml" <<CFG
store: $T/store
audit-log: $T/audit.jsonl
webhook: {listen: "127.0.0.1:0", token-file: import.token}
$(podman_reconcile_config)
stacks:
  - name: web
    source: {git: deploy, branch: main, path: apps/web}
    format: manifests
    target: podman
    policy: {auto-sync: true, always-apply: true, interval: $1, require-digests: true,
             freeze-file: .ferry-freeze, prune: true}
    webhook: {secret-file: web.secret}
  - name: manual
    source: {git: deploy, branch: main, path: apps/manual}
    format: manifests
    target: podman
    policy: {auto-sync: false, interval: 1s, require-digests: true}
CFG
}
R=("$FERRY" reconcile --config "$T/reconcile.yaml")
stop_daemon() { kill "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; }
start_daemon() {
	rm -f "$T/hook.port"
	"${R[@]}" run --port-file "$T/hook.port" -v 2>>"$T/daemon.log" &
	DAEMON=$!
	for _ in $(seq 1 100); do [ -s "$T/hook.port" ] && break; sleep 0.05; done
	[ -s "$T/hook.port" ] || { cat "$T/daemon.log" >&2; fail "daemon did not start"; }
	HOOK=http://127.0.0.1:$(cat "$T/hook.port")/hooks/import
	NOTIFY=(--notify "$HOOK" --notify-token-file "$T/import.token")
}
# Until the drift step the web stack does not poll, so only the importer's
# notification can bring its new revisions.
write_config 1h
start_daemon
at_exit stop_daemon
at_exit podman_cleanup

# event STACK OUTCOME [JQ-FILTER]: the last matching event in the audit stream
event() { jq -c --arg s "$1" --arg o "$2" "select(.stack == \$s and .outcome == \$o)${3:+ | select($3)}" "$T/audit.jsonl" 2>/dev/null | tail -n 1; }
wait_for() { # SECONDS CMD... (counted in polls: the wall clock can jump)
	local tries=$(($1 * 10)); shift
	until "$@"; do [ $((tries -= 1)) -ge 0 ] || return 1; sleep 0.1; done
}
answers() { [ "$(curl -s --max-time 1 "http://127.0.0.1:$1/index.html")" = "$2" ]; }
has_event() { [ -n "$(event "$@")" ]; }
ctr_image() { "${PODMAN[@]}" ps --filter "label=ferry.stack=$1" --filter status=running --format '{{.Image}}'; }

# ---- 1: bundle 1 is imported and deployed ----------------------------------
write_app apps/web web "$WEB" "$D1" "web v1"
write_app apps/manual manual "$MAN" "$D1" "manual v1"
C1=$(commit "v1")
b1=$(export_bundle "$T/l1")
"$FERRY" import -q --store "$T/store" "${NOTIFY[@]}" "$b1" 2>"$T/import.err" || { cat "$T/import.err" >&2; fail "import 1"; }
wait_for 60 answers "$WEB" "web v1" || { cat "$T/daemon.log" "$T/audit.jsonl" >&2; fail "web v1 never answered"; }
wait_for 10 has_event web applied ".revision == \"$C1\"" || fail "no applied event for $C1"
e=$(event web applied ".revision == \"$C1\"")
jq -e --arg d "$D1" '.sequence == 1 and .channel == "site" and (.bundle | length) == 64 and
	(.images | index("127.0.0.1:'"$MPORT"'/library/app@" + $d)) != null and .target == "podman"' <<<"$e" >/dev/null ||
	fail "event lacks bundle, sequence or image digest: $e"
[ "$(ctr_image web)" = "127.0.0.1:$MPORT/library/app@$D1" ] || fail "podman runs $(ctr_image web)"
ok "bundle 1 deployed: the pod answers on 127.0.0.1:$WEB, the event ties commit, bundle #1 and digest"

wait_for 10 has_event manual out-of-sync || fail "manual stack not reported out of sync"
answers "$MAN" "manual v1" && fail "auto-sync off deployed by itself"
"${R[@]}" sync manual >"$T/out" || fail "manual sync"
wait_for 20 answers "$MAN" "manual v1" || fail "manual sync did not deploy"
[ -n "$(event manual applied '.trigger == "manual" and (.actor | startswith("operator:"))')" ] || fail "no manual event"
ok "auto-sync off: reported out of sync, deployed only by 'ferry reconcile sync'"

# ---- 2: bundle 2 through the webhook within 5 s ----------------------------
write_app apps/web web "$WEB" "$D2" "web v2"
C2=$(commit "v2")
b2=$(export_bundle "$T/l2")
"$FERRY" import -q --store "$T/store" "${NOTIFY[@]}" "$b2" 2>"$T/import.err" || { cat "$T/import.err" >&2; fail "import 2"; }
t0=$(date +%s.%N)
# The web stack does not poll yet: only the notification can apply v2. The
# cycle starts at once; the pod's replacement is podman's (about 3 s to
# remove the old pod's cgroup, more under load), so the test allows 15 s
# and prints the figure; bench/reconcile-webhook.sh measures it.
wait_for 15 has_event web applied ".revision == \"$C2\" and .trigger == \"webhook\" and .actor == \"importer:site#2\"" ||
	{ cat "$T/daemon.log" >&2; fail "v2 not applied through the importer's notification"; }
t1=$(date +%s.%N)
wait_for 15 answers "$WEB" "web v2" || { cat "$T/daemon.log" >&2; fail "v2 not served"; }
t2=$(date +%s.%N)
e=$(event web applied ".revision == \"$C2\"")
jq -e --arg d "$D2" '.sequence == 2 and (.images[0] | endswith($d))' <<<"$e" >/dev/null || fail "event for v2: $e"
[ "$(ctr_image web)" = "127.0.0.1:$MPORT/library/app@$D2" ] || fail "podman runs $(ctr_image web)"
ok "bundle 2 applied through the webhook $(echo "$t1 - $t0" | bc | cut -c1-4) s and served $(echo "$t2 - $t0" | bc | cut -c1-4) s after the import (image $D2)"

# From here the web stack polls every second (drift, holds).
stop_daemon
write_config 1s
start_daemon
# The interval edited while the daemon was down is a changed definition:
# the daemon applies the stack again once at the start; let it finish.
wait_for 30 has_event web applied '.trigger == "reload"' || { cat "$T/daemon.log" >&2; fail "the edited stack was not applied at the start"; }

# ---- 3: drift --------------------------------------------------------------
"${PODMAN[@]}" rm -f -t 0 "$("${PODMAN[@]}" ps -q --filter label=ferry.stack=web --filter label=ferry.workload=web)" >/dev/null
wait_for 15 has_event web applied '.drift == true' || { cat "$T/daemon.log" >&2; fail "drift not corrected"; }
wait_for 15 answers "$WEB" "web v2" || fail "web not restored"
jq -e '.detail | test("container httpd is missing")' <<<"$(event web applied '.drift == true')" >/dev/null ||
	fail "drift detail: $(event web applied '.drift == true')"
ok "a container removed by hand is detected as drift and restored (always-apply)"

"${PODMAN[@]}" rm -f -t 0 "$("${PODMAN[@]}" ps -q --filter label=ferry.stack=manual)" >/dev/null
# (the branch moved too, so the events say out-of-sync, with the drift)
manual_drift() { jq -e -s 'map(select(.stack == "manual" and .drift and (.outcome == "drift-reported" or .outcome == "out-of-sync"))) | length > 0' "$T/audit.jsonl" >/dev/null; }
wait_for 15 manual_drift || fail "drift of the manual stack not reported"
sleep 2
[ -z "$("${PODMAN[@]}" ps -q --filter label=ferry.stack=manual --filter status=running)" ] || fail "manual stack restored by itself"
"${R[@]}" status >"$T/status"
grep -E '^manual .* yes ' "$T/status" >/dev/null || { cat "$T/status" >&2; fail "status does not show the drift"; }
ok "auto-sync off: the drift is only reported (event, status), the container stays gone"

# ---- 4: a freeze file blocks the next sync ---------------------------------
echo "change freeze: quarterly close" >"$T/work/.ferry-freeze"
write_app apps/web web "$WEB" "$D2" "web v3"
C3=$(commit "v3 during the freeze")
b3=$(export_bundle "$T/l2")
"$FERRY" import -q --store "$T/store" "${NOTIFY[@]}" "$b3" 2>"$T/import.err" || { cat "$T/import.err" >&2; fail "import 3"; }
wait_for 10 has_event web frozen ".revision == \"$C3\"" || fail "no frozen event"
jq -e '.error | test("quarterly close")' <<<"$(event web frozen)" >/dev/null || fail "frozen event does not say why"
answers "$WEB" "web v2" || fail "the frozen stack moved"
expect_exit 2 "${R[@]}" sync web
expect_err "quarterly close"
ok "a freeze file blocks syncs (webhook, poll and manual) and says why"

# ---- 5: rollback -----------------------------------------------------------
"${R[@]}" rollback web --to "${C1:0:12}" >"$T/out" || fail "rollback"
grep -q "held at" "$T/out" || fail "rollback does not explain the hold: $(cat "$T/out")"
wait_for 20 answers "$WEB" "web v1" || fail "rollback did not restore v1"
wait_for 10 has_event web applied '.trigger == "rollback"' || fail "no rollback event"
e=$(event web applied '.trigger == "rollback"')
jq -e --arg c "$C1" --arg d "$D1" '.revision == $c and .sequence == 1 and (.images[0] | endswith($d))' <<<"$e" >/dev/null ||
	fail "rollback event: $e"
sleep 3
n_applied=$(jq -s 'map(select(.stack == "web" and .outcome == "applied")) | length' "$T/audit.jsonl")
sleep 3
[ "$(jq -s 'map(select(.stack == "web" and .outcome == "applied")) | length' "$T/audit.jsonl")" = "$n_applied" ] ||
	fail "polls re-applied the held stack"
[ -n "$(event web held)" ] || fail "polls do not report the hold"
answers "$WEB" "web v1" || fail "a poll moved the held stack"
[ "$(ctr_image web)" = "127.0.0.1:$MPORT/library/app@$D1" ] || fail "podman runs $(ctr_image web) after rollback"
"${R[@]}" history web >"$T/history"
grep -q rollback "$T/history" && grep -q frozen "$T/history" || { cat "$T/history" >&2; fail "history"; }
ok "rollback restores the previous revision (image $D1, bundle #1) and holds it against polls"

# ---- daemon stops cleanly ----------------------------------------------------
kill -TERM "$DAEMON"
st=0
wait "$DAEMON" || st=$?
[ "$st" = 0 ] || fail "daemon exited $st on SIGTERM"
"${R[@]}" down web >/dev/null || fail "down web"
"${R[@]}" down manual >/dev/null 2>&1 || true
[ -z "$("${PODMAN[@]}" ps -aq --filter label=ferry.stack=web)" ] || fail "down left containers"
ok "SIGTERM stops the daemon cleanly (exit 0); 'ferry reconcile down' removes the stack"
