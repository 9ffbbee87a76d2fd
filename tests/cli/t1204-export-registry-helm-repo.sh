#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# A classic Helm repository (index.yaml + .tgz) served by lighttpd: the
# chart is fetched, checked against index.yaml's digest and stored as an
# OCI Helm artifact (Helm's config and layer media types, the .tgz bytes
# as they are), bound as name:version, and skopeo copies it into a
# registry. A wrong digest, a missing version and plain HTTP without
# `insecure` are each named.
need lighttpd docker-registry skopeo jq curl sha256sum tar gzip
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"

W=$T/www/charts
mkdir -p "$W" "$T/c/demo"
printf 'apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: "4.5"\ndescription: ferry test chart\ntype: application\n' \
	>"$T/c/demo/Chart.yaml"
printf 'replicas: 1\n' >"$T/c/demo/values.yaml"
tar -C "$T/c" -cf - --owner=0 --group=0 --numeric-owner --mtime=@0 demo | gzip -n >"$W/demo-1.2.3.tgz"
TGZ=$(sha256sum "$W/demo-1.2.3.tgz" | cut -d' ' -f1)
cat >"$W/index.yaml" <<EOF2
apiVersion: v1
entries:
  demo:
  - name: demo
    version: 1.2.3
    digest: $TGZ
    urls: [demo-1.2.3.tgz]
  - name: demo
    version: 0.9.0
    digest: 0000000000000000000000000000000000000000000000000000000000000000
    urls: [demo-1.2.3.tgz]
generated: "2026-01-01T00:00:00Z"
EOF2

port=$(_registry_free_port)
cat >"$T/lighttpd.conf" <<EOF2
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$T/www"
server.pid-file = "$T/lighttpd.pid"
mimetype.assign = (".yaml" => "application/x-yaml", ".tgz" => "application/gzip")
EOF2
lighttpd -D -f "$T/lighttpd.conf" >"$T/lighttpd.log" 2>&1 &
LPID=$!
at_exit "kill $LPID; wait $LPID"
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/charts/index.yaml" && break; sleep 0.05; done
curl -sf -o /dev/null "http://127.0.0.1:$port/charts/index.yaml" || fail "lighttpd did not start"
ok "lighttpd serves a classic Helm repository on 127.0.0.1:$port"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
ex() { local want=$1 name=$2 body=$3
	printf 'channel: %s\nsources:\n  - chart: http://127.0.0.1:%s/charts\n%s' "$name" "$port" "$body" >"$T/$name.yaml"
	expect_exit "$want" "$FERRY" export -q --spec "$T/$name.yaml" --key "$T/key.key" \
		--out "$T/bundles" --state "$T/state.db" --cache "$T/cache"; }

ex 0 helm "    chart-name: demo
    version: 1.2.3
    insecure: true
    name: charts/demo
"
B=$T/bundles/ferry-helm-000001.tar
"$FERRY" inspect --json "$B" >"$T/i.json"
D=$(jq -r '.images[] | select(.reference == "charts/demo:1.2.3") | .digest' "$T/i.json")
[ -n "$D" ] || fail "charts/demo:1.2.3 not bound: $(jq -c .images "$T/i.json")"
mkdir "$T/x" && tar -xf "$B" -C "$T/x"
M=$T/x/blobs/sha256/${D#sha256:}
jq -e --arg l "sha256:$TGZ" '.mediaType == "application/vnd.oci.image.manifest.v1+json" and
	.config.mediaType == "application/vnd.cncf.helm.config.v1+json" and
	.layers[0].mediaType == "application/vnd.cncf.helm.chart.content.v1.tar+gzip" and
	.layers[0].digest == $l' "$M" >/dev/null || fail "artifact manifest: $(cat "$M")"
CFG=$T/x/blobs/sha256/$(jq -r '.config.digest' "$M" | cut -d: -f2)
jq -e '.name == "demo" and .version == "1.2.3" and .apiVersion == "v2" and .appVersion == "4.5"' "$CFG" >/dev/null ||
	fail "config: $(cat "$CFG")"
cmp "$W/demo-1.2.3.tgz" "$T/x/blobs/sha256/$TGZ" || fail "the chart archive changed"
ok "the chart is an OCI Helm artifact (config from Chart.yaml, the .tgz as it is) bound as charts/demo:1.2.3"

registry_start "$T/reg" || fail "could not start the registry"
at_exit "registry_stop '$T/reg'"
"${SK[@]}" copy -q --dest-tls-verify=false "oci:$T/x:charts/demo:1.2.3" "docker://$REGISTRY_ADDR/charts/demo:1.2.3" \
	>"$T/cp.log" 2>&1 || { cat "$T/cp.log" >&2; fail "skopeo copy of the chart"; }
[ "$(reg_digest "$REGISTRY_ADDR/charts/demo:1.2.3")" = "$D" ] || fail "registry serves another digest"
ok "skopeo copies the chart artifact into a registry with the same digest"

# A second export is stable: same bytes, same digest.
ex 0 helm2 "    chart-name: demo
    version: 1.2.3
    insecure: true
    name: charts/demo
"
[ "$("$FERRY" inspect --json "$T/bundles/ferry-helm2-000001.tar" | jq -r '.images[0].digest')" = "$D" ] || fail "digest not stable"
ok "the artifact's digest is stable across exports"

ex 1 baddigest "    chart-name: demo
    version: 0.9.0
    insecure: true
"
expect_err "chart 'demo' 0.9.0 from 'http://127.0.0.1:$port/charts': the chart archive has digest sha256:$TGZ, index.yaml says sha256:0000000000000000000000000000000000000000000000000000000000000000 (wrong digest)"
ex 1 noversion "    chart-name: demo
    version: 9.9.9
    insecure: true
"
expect_err "the repository has no version '9.9.9' of chart 'demo'"
ex 1 plain "    chart-name: demo
    version: 1.2.3
"
expect_err "is plain HTTP; set 'insecure: true' to allow it"
ok "wrong digest, missing version and plain HTTP without insecure are named"
