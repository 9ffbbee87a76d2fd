#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# The image closure: a spec names deployments of a git source (plain
# manifests with an initContainer and a CronJob, a Kustomize overlay, a
# compose file) whose images are in a registry but not listed in the spec.
# Export renders them at the exported commit and the bundle carries exactly
# the images they reference; `closure: check` fails naming what is missing;
# an image an earlier bundle of the channel carried is not sent again.
need docker-registry skopeo jq curl sha256sum git kubectl
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"

registry_start "$T/reg" || fail "could not start the registry"
at_exit "registry_stop '$T/reg'"
R=$REGISTRY_ADDR
declare -A D
for img in web init job api db unused; do
	make_sig_layout "$T/l-$img" "sha256:$(printf '%s' "$img" | sha256sum | cut -d' ' -f1)"
	push_layout "$T/l-$img" sig "$R/team/$img:1.0"
	D[$img]=$(reg_digest "$R/team/$img:1.0")
done
ok "registry on $R holds six images"

G=$T/deploy
mkdir -p "$G/apps/web" "$G/apps/api/base" "$G/apps/db"
cat >"$G/apps/web/web.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers:
        - {name: init, image: "$R/team/init:1.0"}
      containers:
        - name: web
          image: $R/team/web:1.0
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: "$R/team/job:1.0"}, {name: again, image: "$R/team/web:1.0"}]
YAML
cat >"$G/apps/api/base/deployment.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers: [{name: api, image: "$R/team/api:0.9"}]
YAML
printf 'resources: [deployment.yaml]\n' >"$G/apps/api/base/kustomization.yaml"
printf 'resources: [base]\nimages:\n  - name: %s/team/api\n    newTag: "1.0"\n' "$R" \
	>"$G/apps/api/kustomization.yaml"
printf 'services:\n  db:\n    image: %s/team/db:1.0\n  cache:\n    build: .\n' "$R" >"$G/apps/db/compose.yaml"
git -C "$G" init -q -b main && git -C "$G" add . &&
	git -C "$G" -c user.name=t -c user.email=t@e commit -qm deploy || fail "git"

spec() { # FILE CLOSURE-MODE
	cat >"$1" <<YAML
channel: ${3:-site}
closure: $2
sources:
  - git: $G
    name: platform/deploy
deployments:
  - name: web
    source: {git: platform/deploy, branch: main, path: apps/web}
    format: manifests
  - name: api
    source: {git: $G, branch: main, path: apps/api}
    format: kustomize
  - name: db
    source: {git: platform/deploy, branch: main, path: apps/db}
    format: compose
registries:
  "$R": {insecure: true}
YAML
}
"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
ex() { "$FERRY" export -q --spec "$1" --key "$T/key.key" --out "$T/bundles" --cache "$T/cache" \
	--state "$T/state.db" "${@:2}"; }

spec "$T/add.yaml" add
expect_exit 0 ex "$T/add.yaml" --json
B1=$T/bundles/ferry-site-000001.tar
printf '%s\n' "${D[web]}" "${D[init]}" "${D[job]}" "${D[api]}" "${D[db]}" | sort >"$T/want"
"$FERRY" inspect --json "$B1" | jq -r '.images[].digest' | sort >"$T/got"
diff -u "$T/want" "$T/got" || fail "the bundle's images are not the closure"
"$FERRY" inspect --json "$B1" | jq -r '.closure.web[] | .image + " " + .digest' | sort >"$T/got"
printf '%s\n' "$R/team/init:1.0 ${D[init]}" "$R/team/job:1.0 ${D[job]}" "$R/team/web:1.0 ${D[web]}" |
	sort >"$T/want"
diff -u "$T/want" "$T/got" || fail "inspect's closure of web"
[ "$("$FERRY" inspect --json "$B1" | jq -r '.closure.api[0].digest')" = "${D[api]}" ] ||
	fail "kustomize's image override was not followed"
[ "$("$FERRY" inspect --json "$B1" | jq -r '.closure.db[0].image')" = "$R/team/db:1.0" ] ||
	fail "compose image"
ok "the bundle carries exactly the five images the deployments use, by digest; inspect lists the closure"

ex "$T/add.yaml" --json --full >"$T/full.json" || fail "export --json"
jq -e --arg d "${D[job]}" '.closure[] | select(.deployment == "web") | .images[] |
	select(.image | endswith("/team/job:1.0")) | .digest == $d and .status == "added" and
	(.where | contains("apps/web/web.yaml: CronJob/nightly"))' "$T/full.json" >/dev/null ||
	{ cat "$T/full.json" >&2; fail "export --json closure"; }
ok "export --json lists deployment, images, digests and where each is used"

ex "$T/add.yaml" --json >"$T/again.json" || fail "third export"
B3=$T/bundles/ferry-site-000003.tar
[ "$("$FERRY" inspect --json "$B3" | jq '.images | length')" = 0 ] ||
	fail "images sent before were sent again: $("$FERRY" inspect --json "$B3" | jq -c .images)"
[ "$(jq -r '[.closure[].images[].status] | unique | join(",")' "$T/again.json")" = sent ] ||
	fail "statuses: $(jq -c '.closure' "$T/again.json")"
ok "images an earlier bundle of the channel carried are not sent again"

spec "$T/check.yaml" check other
expect_exit 1 "$FERRY" export -q --spec "$T/check.yaml" --key "$T/key.key" --out "$T/bundles" \
	--cache "$T/cache" --state "$T/state.db"
expect_err "closure: check"
expect_err "'$R/team/web:1.0' (apps/web/web.yaml: Deployment/web) of deployment 'web'"
[ ! -e "$T/bundles/ferry-other-000001.tar" ] || fail "check wrote a bundle"
printf '  - image: %s/team/%s:1.0\n    insecure: true\n' "$R" web "$R" init "$R" job "$R" api "$R" db \
	>"$T/imgs"
awk -v f="$T/imgs" '{print} /^sources:/{while ((getline l < f) > 0) print l}' "$T/check.yaml" >"$T/check2.yaml"
expect_exit 0 "$FERRY" export -q --spec "$T/check2.yaml" --key "$T/key.key" --out "$T/bundles" \
	--cache "$T/cache" --state "$T/state.db"
ok "closure: check fails naming the missing image and where it is used, and passes when the spec lists them"

cat >"$T/helm.yaml" <<YAML
channel: h
sources:
  - git: $G
deployments:
  - name: chart
    source: {git: $G, branch: main, path: apps/web}
    format: helm
YAML
# helm absent (a PATH holding only git): a clear error naming the missing helm
mkdir "$T/nohelm" && ln -s "$(command -v git)" "$T/nohelm/git"
expect_exit 1 env PATH="$T/nohelm" "$FERRY" export -q --spec "$T/helm.yaml" --key "$T/key.key" \
	--out "$T/bundles" --cache "$T/cache" --state "$T/state.db"
expect_err "deployment 'chart': the helm format needs 'helm'"
ok "format helm without helm is a clear error"

if command -v helm >/dev/null; then
	. "$SRC/tests/lib/helm.sh"
	helm_setup
	for img in helmgit sub testhook ocichart ocivals; do
		make_sig_layout "$T/l-$img" "sha256:$(printf '%s' "$img" | sha256sum | cut -d' ' -f1)"
		push_layout "$T/l-$img" sig "$R/team/$img:1.0"
		D[$img]=$(reg_digest "$R/team/$img:1.0")
	done
	# a chart in git: values-prod.yaml picks the image, a vendored subchart
	# brings its own, a test hook's image is for `helm test` only
	C=$G/apps/chart
	mkdir -p "$C/templates" "$C/charts/sub/templates" "$G/apps/values"
	printf 'apiVersion: v2\nname: shop\nversion: 1.0.0\ndependencies:\n  - {name: sub, version: 0.1.0, repository: "https://charts.example.invalid"}\n' \
		>"$C/Chart.yaml"
	printf 'image: %s/team/unused:1.0\n' "$R" >"$C/values.yaml"
	printf 'image: %s/team/helmgit:1.0\n' "$R" >"$C/values-prod.yaml"
	cat >"$C/templates/deployment.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-shop, namespace: {{ .Release.Namespace }}}
spec:
  template:
    spec:
      containers: [{name: shop, image: {{ .Values.image | quote }}}]
YAML
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: t, annotations: {"helm.sh/hook": test}}\nspec: {containers: [{name: t, image: "%s/team/testhook:1.0"}]}\n' \
		"$R" >"$C/templates/test.yaml"
	printf 'apiVersion: v2\nname: sub\nversion: 0.1.0\n' >"$C/charts/sub/Chart.yaml"
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: sub}\nspec: {containers: [{name: sub, image: "%s/team/sub:1.0"}]}\n' \
		"$R" >"$C/charts/sub/templates/pod.yaml"
	printf 'image: %s/team/ocivals:1.0\n' "$R" >"$G/apps/values/prod.yaml"
	git -C "$G" add . && git -C "$G" -c user.name=t -c user.email=t@e commit -qm chart || fail "git"
	# an OCI chart pushed with helm push
	mkdir -p "$T/oc/web/templates"
	printf 'apiVersion: v2\nname: web\nversion: 0.2.0\n' >"$T/oc/web/Chart.yaml"
	printf 'image: %s/team/ocichart:1.0\n' "$R" >"$T/oc/web/values.yaml"
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: {{ .Release.Name }}}\nspec: {containers: [{name: web, image: {{ .Values.image | quote }}}]}\n' \
		>"$T/oc/web/templates/pod.yaml"
	helm_push_chart "$T/oc/web" "oci://$R/charts"
	D[chart]=$HELM_CHART_DIGEST
	cat >"$T/helm-all.yaml" <<YAML
channel: h
sources:
  - git: $G
deployments:
  - name: chart
    source: {git: $G, branch: main, path: apps/chart}
    format: helm
    values: values-prod.yaml
    namespace: shop
  - name: oci
    source: {oci: oci://$R/charts/web:0.2.0}
    format: helm
  - name: oci-values
    source: {git: $G, branch: main, path: apps/values}
    chart: oci://$R/charts/web:0.2.0
    format: helm
    values: prod.yaml
registries:
  "$R": {insecure: true}
YAML
	expect_exit 0 "$FERRY" export -q --json --spec "$T/helm-all.yaml" --key "$T/key.key" \
		--out "$T/bundles" --cache "$T/cache" --state "$T/state.db"
	cp "$T/out" "$T/helm.json"
	BH=$T/bundles/ferry-h-000001.tar
	printf '%s\n' "${D[helmgit]}" "${D[sub]}" "${D[ocichart]}" "${D[ocivals]}" "${D[chart]}" |
		sort >"$T/want"
	"$FERRY" inspect --json "$BH" | jq -r '.images[].digest' | sort >"$T/got"
	diff -u "$T/want" "$T/got" || fail "the helm bundle's images are not the closure"
	jq -e --arg d "${D[chart]}" '.closure[] | select(.deployment == "oci") |
		.repository == null and .images[0].where == "chart" and .images[0].digest == $d' \
		"$T/helm.json" >/dev/null || fail "the oci chart in the closure: $(jq -c .closure "$T/helm.json")"
	jq -e '[.closure[] | select(.deployment == "chart") | .images[].where] |
		any(contains("apps/chart/") and contains("Deployment/chart-shop"))' "$T/helm.json" >/dev/null ||
		fail "where the git chart's image is used: $(jq -c .closure "$T/helm.json")"
	ok "real helm renders the chart in git (values file, vendored subchart, no test hooks) and the pushed OCI chart (with values from git); the bundle carries exactly their images and the chart, by digest"
fi
sed 's/branch: main, path: apps\/web/branch: nope/' "$T/helm.yaml" | sed 's/format: helm/format: manifests/' >"$T/nobranch.yaml"
expect_exit 1 "$FERRY" export -q --spec "$T/nobranch.yaml" --key "$T/key.key" --out "$T/bundles" \
	--cache "$T/cache" --state "$T/state.db"
expect_err "deployment 'chart': branch 'nope' of 'deploy' is not exported"
ok "a branch the export does not carry is named"
