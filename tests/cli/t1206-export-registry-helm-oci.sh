#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# A chart pushed with real `helm push` to a docker-registry keeps Helm's
# OCI media types end to end: exported as a `chart: oci://` source (and as
# an `image` source), imported, served by `ferry mirror serve`, and
# `helm pull oci://` from the mirror returns the identical .tgz under the
# same manifest digest; `helm template` renders the pulled chart.
need helm docker-registry skopeo jq curl sha256sum tar
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"
. "$SRC/tests/lib/mirror.sh"
. "$SRC/tests/lib/helm.sh"
helm_setup

registry_start "$T/reg" || fail "could not start the registry"
at_exit "registry_stop '$T/reg'"
R=$REGISTRY_ADDR

mkdir -p "$T/c/web/templates"
printf 'apiVersion: v2\nname: web\nversion: 0.1.0+build.7\nappVersion: "1.0"\ndescription: ferry test chart\n' \
	>"$T/c/web/Chart.yaml"
printf 'image: busybox@sha256:%064d\n' 0 >"$T/c/web/values.yaml"
cat >"$T/c/web/templates/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: {{ .Release.Name }}-web}
spec:
  containers: [{name: web, image: {{ .Values.image | quote }}}]
YAML
helm_push_chart "$T/c/web" "oci://$R/charts"
TGZ=$HELM_CHART_TGZ PUSHED=$HELM_CHART_DIGEST
[ "$TGZ" = "$T/web-0.1.0+build.7.tgz" ] || fail "helm package wrote $TGZ"
[ "$(reg_digest "$R/charts/web:0.1.0_build.7")" = "$PUSHED" ] || fail "helm push digest"
skopeo inspect --raw --tls-verify=false "docker://$R/charts/web:0.1.0_build.7" >"$T/pushed.json"
[ "$(jq -r .config.mediaType "$T/pushed.json")" = application/vnd.cncf.helm.config.v1+json ] &&
	[ "$(jq -r '.layers[0].mediaType' "$T/pushed.json")" = application/vnd.cncf.helm.chart.content.v1.tar+gzip ] ||
	fail "not a helm artifact: $(cat "$T/pushed.json")"
ok "helm push wrote chart web 0.1.0+build.7 to $R as $PUSHED"

cat >"$T/spec.yaml" <<YAML
channel: charts
sources:
  - chart: oci://$R/charts/web:0.1.0_build.7
    insecure: true
  - image: $R/charts/web:0.1.0_build.7
    name: mirror/web
    insecure: true
YAML
"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--cache "$T/cache" --state "$T/state.db"
B=$T/bundles/ferry-charts-000001.tar
"$FERRY" inspect --json "$B" >"$T/inspect.json" || fail "inspect"
[ "$(jq -r '[.images[].digest] | unique | join(",")' "$T/inspect.json")" = "$PUSHED" ] ||
	fail "the bundle's chart digests: $(jq -c .images "$T/inspect.json")"
ok "export carries the pushed chart under its digest, as a chart and as an image source"

"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
expect_exit 0 "$FERRY" import -q --store "$T/store" "$B"
mirror_start "$T/store" || fail "mirror did not start"
at_exit mirror_stop
M=127.0.0.1:$MIRROR_PORT
h=$(curl -s -I "http://$M/v2/charts/web/manifests/0.1.0_build.7" | tr -d '\r')
grep -qi "^docker-content-digest: $PUSHED" <<<"$h" || fail "mirror digest: $h"
grep -qi '^content-type: application/vnd.oci.image.manifest.v1+json' <<<"$h" || fail "media type: $h"

mkdir "$T/pulled" "$T/pulled2"
helm pull "oci://$M/charts/web" --version 0.1.0+build.7 --plain-http -d "$T/pulled" >"$T/pull.log" 2>&1 ||
	{ cat "$T/pull.log" "$T/mirror.log" >&2; fail "helm pull from the mirror"; }
grep -q "Digest: $PUSHED" "$T/pull.log" || fail "helm pull digest: $(cat "$T/pull.log")"
cmp "$TGZ" "$T/pulled/web-0.1.0+build.7.tgz" || fail "the pulled chart differs from the pushed one"
helm pull "oci://$M/mirror/web@$PUSHED" --plain-http -d "$T/pulled2" >"$T/pull2.log" 2>&1 ||
	{ cat "$T/pull2.log" >&2; fail "helm pull by digest"; }
cmp "$TGZ" "$T"/pulled2/web*.tgz || fail "the chart pulled by digest differs"
ok "helm pull oci:// from the mirror returns the byte-identical .tgz under the pushed digest (by version and by digest)"

helm template r1 "$T/pulled/web-0.1.0+build.7.tgz" >"$T/out.yaml" 2>"$T/err" || { cat "$T/err" >&2; fail "helm template"; }
grep -q "name: r1-web" "$T/out.yaml" || fail "template: $(cat "$T/out.yaml")"
ok "the pulled chart renders with helm template"
