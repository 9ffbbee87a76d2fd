#!/usr/bin/env bash
# Webhook-to-applied latency for the podman target. Each round a new commit
# (and a new image digest) is exported, imported with --notify, and timed
# from the end of the import to (1) the reconciler's "applied" audit event
# for that commit and (2) the new page answering on the hostPort.
#   bench/reconcile-webhook.sh [ROUNDS]      (default 5; needs root, podman)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export FERRY=${FERRY:-$top/build/cli/ferry} FERRY_SOURCE_DIR=$top
export FERRY_TEST_TMP=${FERRY_TEST_TMP:-/var/tmp}
rounds=${1:-5}
. "$top/tests/lib/test-lib.sh"
need skopeo jq curl umoci git python3 podman
. "$top/tests/lib/oci-fixture.sh"
. "$top/tests/lib/git-server.sh"
. "$top/tests/lib/podman.sh"

MPORT=$(git_free_port)
WEB=$(git_free_port)
podman_setup "127.0.0.1:$MPORT"
make_oci_layout "$T/l1" 16 >/dev/null 2>&1
make_oci_layout "$T/l2" 16 >/dev/null 2>&1
digest_of() { jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$1/index.json"; }
export HOME=$T/home GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name bench && git config --global user.email bench@example.com
git init -q --bare -b main "$T/deploy.git"
git clone -q "$T/deploy.git" "$T/work" 2>/dev/null
write_app() { # DIGEST TEXT
	mkdir -p "$T/work/apps/web"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-content}\ndata:\n  index.html: "%s"\n' \
		"$2" >"$T/work/apps/web/configmap.yaml"
	cat >"$T/work/apps/web/deployment.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: 127.0.0.1:$MPORT/library/app@$1
        command: ["/bin/sh", "-c", "trap 'exit 0' TERM; /bin/busybox httpd -f -p 8080 -h /www & wait"]
        ports: [{containerPort: 8080, hostPort: $WEB, hostIP: 127.0.0.1}]
        volumeMounts: [{name: content, mountPath: /www}]
      volumes:
      - name: content
        configMap: {name: web-content}
YAML
	git -C "$T/work" add -A && git -C "$T/work" commit -qm "$2" && git -C "$T/work" push -q origin main 2>/dev/null
	git -C "$T/work" rev-parse HEAD
}
"$FERRY" keygen -o "$T/key" >/dev/null
printf 'channel: site\nsources:\n  - oci-layout: %s/img\n    name: library/app\n  - git: %s/deploy.git\n' "$T" "$T" >"$T/spec.yaml"
export_bundle() { # LAYOUT
	rm -rf "$T/img" && cp -a "$1" "$T/img"
	mkdir -p "$T/bundles"
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" --state "$T/state.db" \
		--cache "$T/cache" >/dev/null
	ls "$T"/bundles/*.tar | sort | tail -n 1
}
"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
"$FERRY" mirror serve --store "$T/store" --listen "127.0.0.1:$MPORT" 2>"$T/mirror.log" &
MIRROR=$!
at_exit "kill $MIRROR; wait $MIRROR"
printf 'import-token-%s\n' "$RANDOM$RANDOM" >"$T/import.token"
cat >"$T/reconcile.yaml" <<CFG
store: $T/store
audit-log: $T/audit.jsonl
webhook: {listen: "127.0.0.1:0", token-file: import.token}
$(podman_reconcile_config)
stacks:
  - name: web
    source: {git: deploy, branch: main, path: apps/web}
    format: manifests
    runtime: podman
    policy: {auto-sync: true, interval: 1h, require-digests: true}
CFG
# the first bundle, deployed by a manual sync (not timed)
C=$(write_app "$(digest_of "$T/l1")" "round 0")
"$FERRY" import -q --store "$T/store" "$(export_bundle "$T/l1")"
"$FERRY" reconcile --config "$T/reconcile.yaml" sync web >/dev/null
"$FERRY" reconcile --config "$T/reconcile.yaml" run --port-file "$T/hook.port" 2>"$T/daemon.log" &
DAEMON=$!
at_exit "kill $DAEMON; wait $DAEMON"
at_exit podman_cleanup
for _ in $(seq 1 100); do [ -s "$T/hook.port" ] && break; sleep 0.05; done
HOOK=http://127.0.0.1:$(cat "$T/hook.port")/hooks/import
now() { date +%s.%N; }
applied() { jq -e --arg c "$1" 'select(.stack == "web" and .outcome == "applied" and .revision == $c)' "$T/audit.jsonl" >/dev/null 2>&1; }
served() { [ "$(curl -s --max-time 1 "http://127.0.0.1:$WEB/index.html")" = "$1" ]; }

echo "round   applied (s)   served (s)   (after the import returned, through the webhook)"
: >"$T/times"
for i in $(seq 1 "$rounds"); do
	layout=$T/l$(( (i % 2) + 1 ))
	C=$(write_app "$(digest_of "$layout")" "round $i")
	B=$(export_bundle "$layout")
	"$FERRY" import -q --store "$T/store" --notify "$HOOK" --notify-token-file "$T/import.token" "$B" 2>/dev/null
	t0=$(now)
	until applied "$C"; do sleep 0.02; done
	t1=$(now)
	until served "round $i"; do sleep 0.02; done
	t2=$(now)
	a=$(echo "$t1 - $t0" | bc); s=$(echo "$t2 - $t0" | bc)
	printf '%5d %12.2f %12.2f\n' "$i" "$a" "$s"
	echo "$a $s" >>"$T/times"
done
sort -n "$T/times" | awk '{ a[NR] = $1; s += $1; if ($1 > m) m = $1 } END {
	printf "applied: median %.2f s, max %.2f s, mean %.2f s over %d rounds (goal: within 5 s)\n",
		a[int((NR + 1) / 2)], m, s / NR, NR }'
