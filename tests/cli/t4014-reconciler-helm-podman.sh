#!/usr/bin/env bash
# A Helm stack deployed to rootful podman from the store with real helm:
# the chart was pushed with `helm push` to a docker-registry and exported
# as a chart source, the values file comes from git, the image travels in
# the same bundle and is pulled through the ferry mirror. The pod answers
# with the text the values gave; the audit event names the helm version;
# `helm pull oci://` from the mirror returns the pushed chart unchanged.
. "$(dirname "$0")/../lib/test-lib.sh"
need helm docker-registry skopeo jq curl umoci git python3
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"
. "$SRC/tests/lib/mirror.sh"
. "$SRC/tests/lib/git-server.sh"
. "$SRC/tests/lib/podman.sh"
. "$SRC/tests/lib/helm.sh"

MPORT=$(git_free_port)
WEB=$(git_free_port)
podman_setup "127.0.0.1:$MPORT"
helm_setup

# ---- connected side: an image, a chart in a registry, values in git --------
make_oci_layout "$T/l1" 16 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
D1=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$T/l1/index.json")
registry_start "$T/reg" || fail "could not start the registry"
at_exit "registry_stop '$T/reg'"
R=$REGISTRY_ADDR
mkdir -p "$T/c/web/templates"
printf 'apiVersion: v2\nname: web\nversion: 0.1.0\n' >"$T/c/web/Chart.yaml"
printf 'image: none\nport: 1\ntext: default\n' >"$T/c/web/values.yaml"
cat >"$T/c/web/templates/web.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-content}
data:
  index.html: {{ .Values.text | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}, labels: {app: {{ .Release.Name }}}}
spec:
  replicas: 1
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: {{ .Values.image | quote }}
        command: ["/bin/sh", "-c", "trap 'exit 0' TERM; /bin/busybox httpd -f -p 8080 -h /www & wait"]
        ports: [{containerPort: 8080, hostPort: {{ .Values.port }}, hostIP: 127.0.0.1}]
        volumeMounts: [{name: content, mountPath: /www}]
      volumes:
      - name: content
        configMap: {name: {{ .Release.Name }}-content}
YAML
helm_push_chart "$T/c/web" "oci://$R/charts"
CHART=$HELM_CHART_DIGEST

export HOME=$T/home GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git init -q -b main "$T/deploy"
mkdir -p "$T/deploy/sites/prod"
printf 'image: 127.0.0.1:%s/library/app@%s\nport: %s\ntext: helm from the store\n' "$MPORT" "$D1" "$WEB" \
	>"$T/deploy/sites/prod/values.yaml"
git -C "$T/deploy" add -A && git -C "$T/deploy" -c user.name=t -c user.email=t@e commit -qm values || fail git

"$FERRY" keygen -o "$T/key" >/dev/null
cat >"$T/spec.yaml" <<SPEC
channel: site
sources:
  - oci-layout: $T/l1
    name: library/app
  - chart: oci://$R/charts/web:0.1.0
    insecure: true
  - git: $T/deploy
SPEC
mkdir "$T/bundles"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" --state "$T/state.db" \
	--cache "$T/cache" >/dev/null || fail "export"
ok "one bundle: the image, the chart pushed with helm push ($CHART), the values in git"

# ---- enclave: store, mirror, reconciler ------------------------------------
"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
"$FERRY" import -q --store "$T/store" "$T"/bundles/*.tar || fail "import"
"$FERRY" mirror serve --store "$T/store" --listen "127.0.0.1:$MPORT" 2>"$T/mirror.log" &
MIRROR_PID=$!
at_exit mirror_stop
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$MPORT/v2/" && break; sleep 0.05; done
cat >"$T/reconcile.yaml" <<CFG
store: $T/store
audit-log: $T/audit.jsonl
$(podman_reconcile_config)
stacks:
  - name: shop
    source: {git: deploy, branch: main, path: sites/prod}
    chart: charts/web:0.1.0
    format: helm
    values: values.yaml
    target: podman
    policy: {require-digests: true}
CFG
at_exit podman_cleanup
RC=("$FERRY" reconcile --config "$T/reconcile.yaml")
"${RC[@]}" sync shop >"$T/sync.out" 2>"$T/sync.err" || { cat "$T/sync.out" "$T/sync.err" >&2; fail "sync"; }
for _ in $(seq 1 100); do
	[ "$(curl -s --max-time 1 "http://127.0.0.1:$WEB/index.html")" = "helm from the store" ] && break
	sleep 0.2
done
[ "$(curl -s --max-time 1 "http://127.0.0.1:$WEB/index.html")" = "helm from the store" ] ||
	{ cat "$T/audit.jsonl" >&2; fail "the helm stack does not answer on $WEB"; }
[ "$("${PODMAN[@]}" ps --filter label=ferry.stack=shop --filter status=running --format '{{.Image}}')" = \
	"127.0.0.1:$MPORT/library/app@$D1" ] || fail "podman runs something else"
e=$(jq -c 'select(.stack == "shop" and .outcome == "applied")' "$T/audit.jsonl" | tail -n 1)
jq -e --arg d "$D1" '(.detail | contains("rendered with helm v3.")) and
	(.images | index("127.0.0.1:'"$MPORT"'/library/app@" + $d)) != null' <<<"$e" >/dev/null ||
	fail "the applied event lacks helm's version or the image: $e"
ok "the Helm stack (chart from the store, values from git) runs on podman; the event names $(jq -r .detail <<<"$e" | grep -o 'helm v[^ ]*' | head -n 1)"

mkdir "$T/pulled"
helm pull "oci://127.0.0.1:$MPORT/charts/web" --version 0.1.0 --plain-http -d "$T/pulled" >"$T/pull.log" 2>&1 ||
	{ cat "$T/pull.log" >&2; fail "helm pull"; }
grep -q "Digest: $CHART" "$T/pull.log" && cmp "$HELM_CHART_TGZ" "$T/pulled/web-0.1.0.tgz" ||
	fail "the chart from the mirror differs: $(cat "$T/pull.log")"
ok "helm pull oci:// from the mirror returns the identical chart"
