#!/usr/bin/env bash
# The pre-flight before every apply, on the kubernetes target through the
# real kubectl against the recorded stand-in for the Kubernetes API
# (tests/tools/kube-api-stub.py): a revision whose image the store behind
# the mirror does not hold is blocked with the image, its workload and the
# bundle that brought the revision named, in the audit stream and in the
# stack's state; the running Deployment keeps its image; `ferry reconcile
# check` says the same by hand (text and --json, exit 2), with a daemon
# running and without one; once a bundle brings the image, the next poll
# applies. Images on hosts the preflight config does not name are listed as
# not checked and never block; images on a seeded registry are asked for
# there (the real docker-registry), before and after `ferry seed`.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq python3 umoci
KUBECTL=${FERRY_TEST_KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || skip_all "needs kubectl"
. "$SRC/tests/lib/deploy-fixture.sh"
. "$SRC/tests/lib/kube.sh"
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/app-layout" 4 >/dev/null || fail "cannot build the app image"
make_oci_layout "$T/web-layout" 4 >/dev/null || fail "cannot build the web image"
digest_of() { jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$1/index.json"; }
APP=mirror.local/library/app@$(digest_of "$T/app-layout")
WEB=mirror.local/library/web@$(digest_of "$T/web-layout")

deployment() { deploy_manifest "$T/work/app/deployment.yaml" "$1"; }
deploy_git_init
mkdir -p "$T/work/app"
deployment "$APP"
git -C "$T/work" add -A && git -C "$T/work" commit -qm one && git -C "$T/work" push -q origin main 2>/dev/null
"$FERRY" keygen -o "$T/key" >/dev/null
spec() {   # spec LAYOUT:NAME...: the git source and these image layouts
	{
		printf 'channel: c\nsources:\n  - git: %s\n' "$T/deploy.git"
		for l in "$@"; do printf '  - oci-layout: %s\n    name: %s\n' "${l%%:*}" "${l#*:}"; done
	} >"$T/spec.yaml"
}
publish() {   # publish: export the spec as the channel's next bundle and import it
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache" >/dev/null || fail "export"
	"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)" || fail "import"
}
mkdir -p "$T/bundles"
spec "$T/app-layout:library/app"
"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
publish

kube_stub_start
K=("$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" --namespace shop)
[ -z "$KUBE_LOG" ] && "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" create namespace shop >/dev/null
cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {command: $KUBECTL, kubeconfig: $KUBECONFIG_FILE}
webhook: {listen: "127.0.0.1:0"}
preflight:
  mirror: [mirror.local]
stacks:
  - name: web
    source: {git: deploy, branch: main, path: app}
    runtime: kubernetes
    namespace: shop
    policy: {auto-sync: true, interval: 1h, rollout-timeout: 0s}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
live_image() { "${K[@]}" get deployment app -o json | jq -r '.spec.template.spec.containers[0].image'; }

# 1. every image is in the store: check passes, the sync applies
expect_exit 0 "${R[@]}" check web
expect_out "present   $APP  deployment.yaml: Deployment/app  (in the store)"
expect_out "web: 1 image(s): 0 missing, 0 not checked"
expect_exit 0 "${R[@]}" sync web
expect_out "web: applied"
[ "$(live_image)" = "$APP" ] || fail "the first revision was not applied"
ok "a revision whose image the store holds passes the pre-flight and is applied"

# 2. a revision whose image nobody carried
deployment "$WEB"
git -C "$T/work" commit -qam two && git -C "$T/work" push -q origin main 2>/dev/null
publish
C2=$(git -C "$T/work" rev-parse HEAD)
expect_exit 0 "${R[@]}" run --once --audit-log "$T/audit.jsonl"
e=$("${R[@]}" history web --json | jq -c 'last')
jq -e --arg img "$WEB" --arg rev "$C2" '.bundle as $b | .outcome == "blocked" and .revision == $rev and .channel == "c" and .sequence == 2 and
	(.error | contains("image '\''" + $img + "'\'' used by deployment.yaml: Deployment/app is missing (the store has no repository '\''library/web'\'')")) and
	(.error | contains("revision " + $rev[0:12] + " came with bundle " + $b + " (channel '\''c'\'', sequence 2), which did not carry it"))' <<<"$e" >/dev/null ||
	fail "the block is not in the history: $e"
jq -e -s 'map(select(.outcome == "blocked")) | length == 1' "$T/audit.jsonl" >/dev/null ||
	fail "the block is not in the audit stream: $(cat "$T/audit.jsonl")"
[ "$(live_image)" = "$APP" ] || fail "the running Deployment was changed: $(live_image)"
s=$("${R[@]}" status --json | jq -c '.[0]')
jq -e --arg rev "$C2" '.lastOutcome == "blocked" and .desired == $rev and .applied != $rev' <<<"$s" >/dev/null ||
	fail "the state does not show the block: $s"
expect_exit 2 "${R[@]}" sync web
expect_err "pre-flight blocked the apply: image '$WEB' used by deployment.yaml: Deployment/app is missing"
[ "$(live_image)" = "$APP" ] || fail "the operator's sync changed the running Deployment"
ok "a missing image blocks the apply, named with its workload and bundle, in the audit stream and the state; the old workload runs on"

# 3. check by hand, without and with a running daemon
expect_exit 2 "${R[@]}" check web
expect_out "missing   $WEB  deployment.yaml: Deployment/app"
expect_out "the store has no repository 'library/web'"
expect_out "web: 1 image(s): 1 missing, 0 not checked"
expect_err "which did not carry it"
deploy_daemon
expect_exit 2 "${R[@]}" check web --json
jq -e --arg img "$WEB" --arg rev "$C2" '.stack == "web" and .revision == $rev and .missing == 1 and .channel == "c" and
	.sequence == 2 and (.images | length == 1) and .images[0].image == $img and .images[0].status == "missing" and
	.images[0].place == "store" and .images[0].where == "deployment.yaml: Deployment/app"' "$T/out" >/dev/null ||
	fail "check --json: $(cat "$T/out")"
kill "$DAEMON" && wait "$DAEMON" 2>/dev/null
[ "$(live_image)" = "$APP" ] || fail "check changed the running Deployment"
ok "ferry reconcile check names the missing image (text and --json, exit 2), beside a daemon and without one"

# 4. the image arrives: the next poll applies
spec "$T/app-layout:library/app" "$T/web-layout:library/web"
publish
expect_exit 0 "${R[@]}" check web
expect_out "present   $WEB"
expect_exit 0 "${R[@]}" run --once
[ "$(jq -r '.[0].lastOutcome' <("${R[@]}" status --json))" = applied ] || fail "the next poll did not apply"
[ "$(live_image)" = "$WEB" ] || fail "the new image was not applied: $(live_image)"
ok "after the missing image is imported, the next cycle applies"

# 5. hosts the preflight config does not name are not checked
deployment "registry.example/library/web:v9"
git -C "$T/work" commit -qam three && git -C "$T/work" push -q origin main 2>/dev/null
publish
expect_exit 0 "${R[@]}" check web
expect_out "unchecked registry.example/library/web:v9"
expect_out "'registry.example' is neither a mirror nor a registry of the preflight config"
expect_out "web: 1 image(s): 0 missing, 1 not checked"
ok "an image on a host the preflight config does not name is listed as not checked"

# 6. a seeded registry the runtime pulls from: asked with a HEAD of the
# manifest (the real docker-registry), before and after `ferry seed`
command -v docker-registry >/dev/null || { echo "# no docker-registry: the seeded registry is not tried"; exit 0; }
. "$SRC/tests/lib/registry.sh"
registry_start "$T/reg" || fail "cannot start the registry"
at_exit registry_stop
ADDR=$REGISTRY_ADDR
SITE=$ADDR/library/web@$(digest_of "$T/web-layout")
deploy_manifest "$T/work/site/deployment.yaml" "$SITE"
git -C "$T/work" add -A && git -C "$T/work" commit -qm site && git -C "$T/work" push -q origin main 2>/dev/null
publish
cat >"$T/site.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
preflight:
  registries: {"$ADDR": {url: "http://$ADDR"}}
stacks:
  - {name: site, source: {git: deploy, branch: main, path: site}, runtime: kubernetes}
CFG
S=("$FERRY" reconcile --config "$T/site.yaml")
expect_exit 2 "${S[@]}" check site
expect_out "missing   $SITE  deployment.yaml: Deployment/app"
expect_out "registry '$ADDR' has no manifest library/web:$(digest_of "$T/web-layout") (HTTP 404)"
expect_exit 2 "${S[@]}" sync site
expect_err "image '$SITE' used by deployment.yaml: Deployment/app is missing (registry '$ADDR' has no manifest"
"$FERRY" target add site --store "$T/store" --kind oci --url "http://$ADDR" >/dev/null || fail "target add"
"$FERRY" seed --store "$T/store" >/dev/null 2>"$T/seed.err" || { cat "$T/seed.err" >&2; fail "seed"; }
expect_exit 0 "${S[@]}" check site
expect_out "present   $SITE  deployment.yaml: Deployment/app  (in the registry $ADDR)"
expect_exit 0 "${S[@]}" sync site
expect_out "site: applied"
ok "an image on a seeded registry is checked by a HEAD of its manifest there: missing before the seed, present after"
