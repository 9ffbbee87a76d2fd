#!/usr/bin/env bash
# Without a live target: tag- and SHA-pinned stacks do not move when the
# branch moves; require-digests rejects ':latest' naming the image;
# Kustomize overlays render through `kubectl kustomize`; the kubernetes
# target's commands are shown by --dry-run; a helm stack without helm
# fails naming the binary; history-keep prunes quiet cycles; 'stacks: []'
# loads and deploys nothing; config errors name the line.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq
. "$SRC/tests/lib/git-server.sh"

. "$SRC/tests/lib/deploy-fixture.sh"
deploy_git_init
mkdir -p "$T/work/app" "$T/work/latest" "$T/work/base" "$T/work/overlays/prod" "$T/work/chart/templates"
printf 'apiVersion: v2\nname: web\nversion: 0.1.0\n' >"$T/work/chart/Chart.yaml"
printf 'replicas: 1\n' >"$T/work/chart/values.yaml"
deploy_manifest "$T/work/app/deployment.yaml"
cat >"$T/work/latest/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: loose}
spec: {containers: [{name: c, image: "mirror.local/library/busybox:latest"}]}
YAML
cp "$T/work/app/deployment.yaml" "$T/work/base/"
printf 'resources: [deployment.yaml]\n' >"$T/work/base/kustomization.yaml"
printf 'resources: [../../base]\nnamePrefix: prod-\nreplicas: [{name: app, count: 3}]\n' >"$T/work/overlays/prod/kustomization.yaml"
git -C "$T/work" add -A && git -C "$T/work" commit -qm one && git -C "$T/work" tag v1 && git -C "$T/work" push -q origin main v1 2>/dev/null
C1=$(git -C "$T/work" rev-parse HEAD)

"$FERRY" keygen -o "$T/key" >/dev/null
printf 'channel: c\nsources:\n  - git: %s\n' "$T/deploy.git" >"$T/spec.yaml"
exp() { "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" --state "$T/state.db" --cache "$T/cache" >/dev/null; }
mkdir -p "$T/bundles"
exp
"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
"$FERRY" import -q --store "$T/store" "$T"/bundles/*.tar

cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
helm: {command: $T/no-such-dir/helm}
stacks:
  - name: chart
    source: {git: deploy, branch: main, path: chart}
    format: helm
    values: values.yaml
    target: kubernetes
  - {name: branch, source: {git: deploy, branch: main, path: app}, target: podman}
  - {name: tagged, source: {git: deploy, tag: v1, path: app}, target: podman}
  - {name: pinned, source: {git: deploy, commit: ${C1:0:12}, path: app}, target: podman}
  - name: strict
    source: {git: deploy, branch: main, path: latest}
    runtime: podman
    policy: {require-digests: true}
  - name: prod
    source: {git: deploy, branch: main, path: overlays/prod}
    format: kustomize
    target: kubernetes
    namespace: shop
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")

# the branch moves
echo "# two" >>"$T/work/app/deployment.yaml"
git -C "$T/work" commit -qam two && git -C "$T/work" push -q origin main 2>/dev/null
C2=$(git -C "$T/work" rev-parse HEAD)
exp
"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)"
"${R[@]}" status --json >"$T/status.json" || fail "status"
[ "$(jq -r '.[] | select(.stack == "branch") | .desired' "$T/status.json")" = "$C2" ] || fail "branch did not move"
[ "$(jq -r '.[] | select(.stack == "tagged") | .desired' "$T/status.json")" = "$C1" ] || fail "tag-pinned stack moved"
[ "$(jq -r '.[] | select(.stack == "pinned") | .desired' "$T/status.json")" = "$C1" ] || fail "SHA-pinned stack moved"
expect_exit 0 "${R[@]}" --dry-run sync tagged
expect_out "revision $C1 rendered"
ok "tag- and SHA-pinned stacks stay at $C1 when the branch moves to $C2"

expect_exit 2 "${R[@]}" sync strict
expect_err "image 'mirror.local/library/busybox:latest' in Pod/loose has no digest"
jq -e 'map(select(.stack == "strict" and .outcome == "failed")) | length == 1' <("${R[@]}" history strict --json) >/dev/null ||
	fail "the rejection is not in the audit history"
ok "require-digests rejects ':latest', naming the image, and records it"

expect_exit 1 "${R[@]}" sync chart
expect_err "stack 'chart': the helm format needs '$T/no-such-dir/helm': no executable at that path"
jq -e 'map(select(.stack == "chart" and .outcome == "failed")) | length == 1' <("${R[@]}" history chart --json) >/dev/null ||
	fail "the helm failure is not in the audit history"
ok "a helm stack without helm fails with a message naming the missing binary, and is recorded"

cat >"$T/h.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
history-keep: 1s
stacks:
  - {name: quiet, source: {git: deploy, branch: main, path: app}, target: kubernetes}
CFG
H=("$FERRY" reconcile --config "$T/h.yaml")
expect_exit 0 "${H[@]}" sync quiet
expect_exit 0 "${H[@]}" run --once
sleep 2
expect_exit 0 "${H[@]}" run --once
"${H[@]}" history quiet --json >"$T/h.json" || fail "history"
[ "$(jq 'map(select(.outcome == "unchanged")) | length' "$T/h.json")" = 1 ] ||
	fail "unchanged events past history-keep not pruned: $(jq -c 'map(.outcome)' "$T/h.json")"
[ "$(jq 'map(select(.outcome == "applied")) | length' "$T/h.json")" = 1 ] || fail "the applied event was pruned"
printf 'history-keep: soon\nstacks: []\n' >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "bad.yaml:1: history-keep must be a duration such as 30d or 'forever', not 'soon'"
ok "history-keep prunes quiet-cycle events and keeps the ones that changed something"

printf 'store: %s\nstacks: []\n' "$T/store" >"$T/none.yaml"
expect_exit 0 "$FERRY" reconcile --config "$T/none.yaml" status
expect_out "STACK"
expect_exit 0 "$FERRY" reconcile --config "$T/none.yaml" run --once
expect_exit 0 "$FERRY" reconcile --config "$T/none.yaml" sync --all
printf 'store: %s\n' "$T/store" >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "bad.yaml: the config has no stacks"
ok "an explicit 'stacks: []' loads and runs nothing; a config without stacks is refused"

command -v kubectl >/dev/null || skip_all "needs kubectl for kustomize"
expect_exit 0 "${R[@]}" --dry-run sync prod
expect_out "kubectl --namespace shop apply --server-side --field-manager=ferry --force-conflicts -f"
expect_out "kubectl --namespace shop get -f "
expect_out "ingress.networking.k8s.io -l ferry.stack=prod "
f=$(sed -n 's/.* rendered to \([^ ]*\) .*/\1/p' "$T/out")
[ -f "$f" ] || fail "no rendered file"
grep -q 'name: prod-app' "$f" && grep -q 'replicas: 3' "$f" || fail "kustomize overlay not applied: $(cat "$f")"
grep -q 'ferry.stack: prod' "$f" && grep -q 'ferry.workload: prod-app' "$f" || fail "labels missing"
ok "kustomize overlay rendered by kubectl kustomize; kubernetes --dry-run shows server-side apply with prune by label"

expect_exit 0 "${R[@]}" sync prod
expect_out "prod: applied"
[ "$(jq -r '.[] | select(.stack == "prod") | .applied' <("${R[@]}" status --json))" = "$C2" ] || fail "dry-run target not recorded"
ok "kubernetes target with dry-run: true in the config prints the commands (no cluster here)"

printf 'stacks:\n  - name: x\n    source: {git: deploy, branch: main}\n    policy: {auto-synk: true}\n' >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "bad.yaml:4: unknown key in policy: 'auto-synk'"
printf 'stacks:\n  - name: x\n    source: {git: deploy, branch: main, tag: v1}\n' >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "exactly one of branch, tag or commit"
ok "config errors name the file and line"
