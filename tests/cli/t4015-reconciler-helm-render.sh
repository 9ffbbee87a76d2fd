#!/usr/bin/env bash
# Helm stacks rendered by real helm without a live target (the kubernetes
# target in dry-run): a chart pushed with `helm push`, carried by a bundle,
# rendered from the store alone (source: {oci: ...}) and with values from
# git (chart:), with release and namespace, CRDs included and test hooks
# left out; the applied event names helm's version. A source path that
# holds .ferry-chart, a chart the store lacks and helm missing from PATH
# are each named.
. "$(dirname "$0")/../lib/test-lib.sh"
need helm docker-registry skopeo jq git
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"
. "$SRC/tests/lib/git-server.sh"
. "$SRC/tests/lib/deploy-fixture.sh"
. "$SRC/tests/lib/helm.sh"
helm_setup

registry_start "$T/reg" || fail "could not start the registry"
at_exit "registry_stop '$T/reg'"
R=$REGISTRY_ADDR
Z=sha256:$(printf '0%.0s' $(seq 64))
mkdir -p "$T/c/web/templates" "$T/c/web/crds"
printf 'apiVersion: v2\nname: web\nversion: 0.1.0\n' >"$T/c/web/Chart.yaml"
printf 'image: mirror.local/team/default@%s\n' "$Z" >"$T/c/web/values.yaml"
cat >"$T/c/web/templates/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-web, namespace: {{ .Release.Namespace }}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: {{ .Values.image | quote }}}]}
YAML
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: smoke, annotations: {"helm.sh/hook": test}}\nspec: {containers: [{name: t, image: "mirror.local/team/testhook@%s"}]}\n' \
	"$Z" >"$T/c/web/templates/test.yaml"
printf 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n' \
	>"$T/c/web/crds/widgets.yaml"
helm_push_chart "$T/c/web" "oci://$R/charts"

deploy_git_init
mkdir -p "$T/work/sites/prod" "$T/work/clash/.ferry-chart"
printf 'image: mirror.local/team/prod@%s\n' "$Z" >"$T/work/sites/prod/values.yaml"
printf 'x\n' >"$T/work/clash/.ferry-chart/x"
deploy_store "$(printf '  - chart: oci://%s/charts/web:0.1.0\n    insecure: true\n' "$R")" ||
	fail "export or import"

cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
stacks:
  - name: shop
    source: {git: deploy, branch: main, path: sites/prod}
    chart: charts/web:0.1.0
    format: helm
    values: values.yaml
    release: rel
    namespace: shop
    target: kubernetes
    policy: {require-digests: true}
  - name: alone
    source: {oci: charts/web:0.1.0}
    format: helm
    target: kubernetes
  - name: clash
    source: {git: deploy, branch: main, path: clash}
    chart: charts/web:0.1.0
    format: helm
    target: kubernetes
  - name: lost
    source: {git: deploy, branch: main, path: sites/prod}
    chart: charts/nope:1.0
    format: helm
    target: kubernetes
CFG
RC=("$FERRY" reconcile --config "$T/r.yaml")
expect_exit 0 "${RC[@]}" --dry-run sync shop
expect_out ", helm v3."
f=$(sed -n 's/.* rendered to \([^ ]*\) .*/\1/p' "$T/out")
[ -f "$f" ] || fail "no rendered file: $(cat "$T/out")"
grep -q "image: \"\?mirror.local/team/prod@$Z" "$f" || fail "the values from git were not used: $(cat "$f")"
grep -q 'name: rel-web' "$f" && grep -q 'namespace: shop' "$f" || fail "release or namespace: $(cat "$f")"
grep -q 'kind: CustomResourceDefinition' "$f" || fail "the chart's CRDs are missing"
! grep -q testhook "$f" || fail "a test hook was rendered"
ok "chart from the store, values from git: release, namespace, CRDs, no test hooks"

expect_exit 0 "${RC[@]}" sync shop
jq -e '.[0].outcome == "applied" and (.[0].detail | startswith("rendered with helm v3."))' \
	<("${RC[@]}" history shop --json) >/dev/null || fail "event: $("${RC[@]}" history shop --json)"
ok "the applied event names the helm version"

expect_exit 0 "${RC[@]}" --dry-run sync alone
f=$(sed -n 's/.* rendered to \([^ ]*\) .*/\1/p' "$T/out")
grep -q "image: \"\?mirror.local/team/default@$Z" "$f" && grep -q 'name: alone-web' "$f" ||
	fail "the chart alone: $(cat "$f")"
ok "an oci source that is a chart renders with the chart's own values"

expect_exit 1 "${RC[@]}" sync clash
expect_err "stack 'clash': the source's path holds '.ferry-chart'"
expect_exit 1 "${RC[@]}" sync lost
expect_err "stack 'lost': the store has no artifact 'charts/nope:1.0'"
expect_exit 1 env PATH="$T/nowhere" "${RC[@]}" sync shop
expect_err "stack 'shop': the helm format needs 'helm'"
ok "a path holding .ferry-chart, a chart the store lacks and helm missing from PATH are named"
