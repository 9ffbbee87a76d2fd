#!/usr/bin/env bash
# The kubernetes target through the real kubectl, against a stand-in for the
# Kubernetes API that records kubectl's requests (tests/tools/kube-api-stub.py;
# no kube-apiserver runs on these machines): server-side apply with field
# manager ferry and the stack's label; an update; an object removed from the
# stack pruned by the stack's label set while objects other managers made or
# a controller owns stay; a hand edit found as drift by `kubectl diff`,
# recorded and corrected; the rollout health of the applied Deployment in the
# event (never observed without a controller, then ready). The requests are
# held to the contract recorded for this kubectl's minor version in
# tests/resources/kube-contract/ when there is one.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq python3 curl diff
KUBECTL=${FERRY_TEST_KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || skip_all "needs kubectl"
. "$SRC/tests/lib/deploy-fixture.sh"
. "$SRC/tests/lib/kube.sh"

deploy_git_init
deploy_manifest "$T/work/app/deployment.yaml"
cat >"$T/work/app/config.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: one}
YAML
deploy_store
# FERRY_KUBE_APISERVER: a kube-apiserver binary (scripts/build-kube-apiserver.sh)
# to run against, over etcd, instead of the stand-in
if [ -n "${FERRY_KUBE_APISERVER:-}" ]; then
	need etcd openssl
	kube_apiserver_start "$FERRY_KUBE_APISERVER"
else
	kube_stub_start
fi
K=("$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" --namespace shop)
[ -z "$KUBE_LOG" ] && "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" create namespace shop >/dev/null
# kubectl 1.21 and later hide managedFields unless asked
MF=()
"$KUBECTL" get --help 2>/dev/null | grep -q -- --show-managed-fields && MF=(--show-managed-fields)

cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {command: $KUBECTL, kubeconfig: $KUBECONFIG_FILE}
stacks:
  - name: web
    source: {git: deploy, branch: main, path: app}
    runtime: kubernetes
    namespace: shop
    policy: {rollout-timeout: 2s}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
event() { "${R[@]}" history web --json | jq -c "map(select($1)) | last"; }
publish() {
	git -C "$T/work" add -A && git -C "$T/work" commit -qm "$1" && git -C "$T/work" push -q origin main 2>/dev/null
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache" >/dev/null
	"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)"
}
# contract STEP FROM: the set of requests since line FROM of the log (the
# rollout health repeats its reads while it waits, a number of times that
# depends on timing) is the one recorded for this step of this kubectl's
# minor version, when one is recorded
VERSION=$("$KUBECTL" version --client -o json 2>/dev/null | jq -r '.clientVersion | "\(.major).\(.minor | sub("[^0-9]+$"; ""))"')
CONTRACT=$SRC/tests/resources/kube-contract/kubectl-$VERSION
contract() {
	[ -n "$KUBE_LOG" ] || return 0
	kube_requests "$2" | sort -u >"$T/contract-$1.txt"
	[ -n "${FERRY_RECORD_CONTRACT:-}" ] && { mkdir -p "$CONTRACT"; cp "$T/contract-$1.txt" "$CONTRACT/$1.txt"; }
	[ -f "$CONTRACT/$1.txt" ] || return 0
	diff -u "$CONTRACT/$1.txt" "$T/contract-$1.txt" >&2 ||
		fail "kubectl $VERSION's requests for '$1' differ from the recorded contract"
}
mark() { [ -z "$KUBE_LOG" ] || wc -l <"$KUBE_LOG"; }
# requests STEP PATTERN: the step's requests include one matching PATTERN
# (the stand-in's log only)
requests() { [ -z "$KUBE_LOG" ] || grep -Eq "$2" "$T/contract-$1.txt"; }

# 1. apply: every object server-side applied with manager ferry and the label
m=$(mark)
expect_exit 0 "${R[@]}" sync web
expect_out "web: applied"
# it waited the stack's rollout-timeout (2s; longer when kubectl is slow)
waited=$(sed -n 's/^  rollout progressing after \([0-9]*\)s: Deployment\/app generation 1 not yet observed by its controller$/\1/p' "$T/out")
[ -n "$waited" ] && [ "$waited" -ge 2 ] || { cat "$T/out" >&2; fail "no progressing rollout after waiting 2s"; }
contract apply "$m"
requests apply '^PATCH /api/v1/namespaces/shop/configmaps/cfg fieldManager=ferry&.*force=true.* application/apply-patch\+yaml$' || fail "no server-side apply of the ConfigMap: $(cat "$T/contract-apply.txt")"
requests apply '^PATCH /apis/apps/v1/namespaces/shop/deployments/app fieldManager=ferry&.*force=true.* application/apply-patch\+yaml$' || fail "no server-side apply of the Deployment"
"${K[@]}" get configmap/cfg deployment/app "${MF[@]}" -o json >"$T/live.json"
[ "$(jq -r '[.items[] | .metadata.labels["ferry.stack"]] | unique | join(",")' "$T/live.json")" = web ] ||
	fail "objects without the stack label: $(jq -c '[.items[].metadata.labels]' "$T/live.json")"
[ "$(jq -r '[.items[] | .metadata.managedFields[] | select(.operation == "Apply") | .manager] | unique | join(",")' "$T/live.json")" = ferry ] ||
	fail "not applied by field manager ferry: $(jq -c '[.items[].metadata.managedFields]' "$T/live.json")"
e=$(event '.outcome == "applied"')
jq -e '.target == "kubernetes" and (.detail | test("rollout progressing after [0-9]+s: Deployment/app generation 1 not yet observed"))' <<<"$e" >/dev/null ||
	fail "the event does not report the rollout: $e"
ok "apply: server-side, field manager ferry, the stack's label; the unobserved rollout is reported as progressing"

# 2. an update of the source changes the live object
sed -i 's/greeting: one/greeting: two/' "$T/work/app/config.yaml"
publish two
m=$(mark)
expect_exit 0 "${R[@]}" sync web
expect_out "web: applied"
contract update "$m"
[ "$(jq -r '.data.greeting' <("${K[@]}" get configmap cfg -o json))" = two ] || fail "the ConfigMap was not updated"
ok "a new revision updates the live objects"

# 3. prune: the ConfigMap leaves the stack; an object with the same label
# that a client-side `kubectl apply` made and one a controller owns stay
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, labels: {ferry.stack: web}}\n' >"$T/other.yaml"
"${K[@]}" apply -f "$T/other.yaml" >/dev/null
kube_curl PATCH '/api/v1/namespaces/shop/configmaps/owned?fieldManager=ferry' application/apply-patch+yaml \
	'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owned","labels":{"ferry.stack":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"app","uid":"1","controller":true}]}}' >/dev/null ||
	fail "cannot make the owned ConfigMap"
git -C "$T/work" rm -q app/config.yaml
publish three
m=$(mark)
expect_exit 0 "${R[@]}" sync web
expect_out "web: applied"
contract prune "$m"
requests prune '^GET /api/v1/namespaces/shop/configmaps labelSelector=ferry.stack=web(&limit=[0-9]+)? -$' ||
	fail "the stack's objects were not listed by its label: $(cat "$T/contract-prune.txt")"
requests prune '^DELETE /api/v1/namespaces/shop/configmaps/cfg ' || fail "cfg not deleted"
"${K[@]}" get configmap -o json >"$T/cms.json"
[ "$(jq -r '[.items[].metadata.name] | sort | join(",")' "$T/cms.json")" = other,owned ] ||
	fail "prune removed the wrong objects: $(jq -c '[.items[].metadata.name]' "$T/cms.json")"
ok "an object removed from the stack is pruned by the stack's label; other managers' and owned objects stay"

# 4. drift: a hand edit of a field ferry applies is found by kubectl diff,
# recorded, and corrected by auto-sync
"${K[@]}" patch deployment app --type merge \
	-p '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"mirror.local/library/app:hand"}]}}}}' >/dev/null
m=$(mark)
expect_exit 0 "${R[@]}" run --once
contract drift "$m"
requests drift '^PATCH /apis/apps/v1/namespaces/shop/deployments/app dryRun=All&fieldManager=ferry&.*force=true.* application/apply-patch\+yaml$' || fail "kubectl diff did not dry-run a server-side apply: $(cat "$T/contract-drift.txt")"
e=$(event '.drift == true')
jq -e '.outcome == "applied" and (.detail | startswith("kubectl diff:\napps.v1.Deployment.shop.app:\n")) and
	(.detail | contains("\n-      - image: mirror.local/library/app:hand\n"))' <<<"$e" >/dev/null ||
	fail "the drift is not in the event: $e"
[ "$(jq -r '.spec.template.spec.containers[0].image' <("${K[@]}" get deployment app -o json))" = \
	"mirror.local/library/app@sha256:$(printf '%064d' 1)" ] || fail "the drift was not corrected"
ok "a hand edit is drift found from the live object, recorded with the diff, and corrected"

# 5. health: once the controller reports the rollout done, the event says ready
gen=$(jq -r '.metadata.generation' <("${K[@]}" get deployment app -o json))
kube_curl PATCH /apis/apps/v1/namespaces/shop/deployments/app/status application/merge-patch+json \
	"{\"status\":{\"observedGeneration\":$gen,\"replicas\":1,\"updatedReplicas\":1,\"readyReplicas\":1,\"availableReplicas\":1}}" >/dev/null ||
	fail "cannot set the Deployment's status"
expect_exit 0 "${R[@]}" sync web
e=$(event '.outcome == "applied"')
jq -e '.detail | test("rollout ready \\(1 workload\\)")' <<<"$e" >/dev/null || fail "no ready rollout in the event: $e"
ok "a rolled-out Deployment is reported ready"
