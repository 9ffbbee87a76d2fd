#!/usr/bin/env bash
# ferry mirror node-config: the node configuration for the mirror itself, with
# no seed target. The store holds library/app:v1 (a name of the mirror's own)
# and quay.io/org/app:v1 (a name that keeps its upstream host, served as
# /v2/quay.io/org/app). skopeo, given only the written registries.conf, pulls
# both by the names a node uses (127.0.0.1:PORT/library/app and
# quay.io/org/app, whose upstream is unreachable here); containerd's
# hosts.toml sends quay.io's pulls to the mirror's /v2/quay.io with
# override_path = true.
. "$(dirname "$0")/../lib/test-lib.sh"
need skopeo jq curl umoci
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/mirror.sh"

OCI_FIXTURE_CHART=0 make_oci_layout "$T/layout" 32 >/dev/null 2>"$T/fixture.log" ||
	{ cat "$T/fixture.log" >&2; fail fixture; }
mirror_store_names "$T/store" "$T/layout" library/app "$T/layout" quay.io/org/app || fail "export and import"

mirror_start "$T/store" || fail "mirror did not start"
at_exit mirror_stop
P=$MIRROR_PORT

# Usage errors.
expect_exit 64 "$FERRY" mirror node-config --store "$T/store"
expect_err "needs --url"
expect_exit 64 "$FERRY" mirror node-config --store "$T/store" --url "ftp://127.0.0.1:$P"
expect_exit 1 "$FERRY" mirror node-config --store "$T/store" --url "http://127.0.0.1:$P" --registry 'bad name'
expect_err "invalid registry name 'bad name'"
ok "node-config needs an http(s) URL and checks registry names"

# Printed: every file under a line naming where it goes on a node.
expect_exit 0 "$FERRY" mirror node-config --store "$T/store" --url "http://127.0.0.1:$P" --registry ghcr.io
expect_out "# ==> /etc/containers/registries.conf.d/50-ferry-mirror.conf <=="
expect_out "# ==> /etc/containerd/certs.d/127.0.0.1:$P/hosts.toml <=="
expect_out "# ==> /etc/containerd/certs.d/quay.io/hosts.toml <=="
expect_out "# ==> /etc/containerd/certs.d/ghcr.io/hosts.toml <=="
ok "node-config prints registries.conf and a hosts.toml per upstream host the store keeps (and each --registry)"

expect_exit 0 "$FERRY" mirror node-config --store "$T/store" --url "http://127.0.0.1:$P" --out "$T/node"
conf=$T/node/registries.conf
grep -qx "location = \"127.0.0.1:$P\"" "$conf" && grep -qx 'prefix = "quay.io"' "$conf" &&
	grep -qx "location = \"127.0.0.1:$P/quay.io\"" "$conf" && grep -qx 'insecure = true' "$conf" ||
	fail "registries.conf: $(cat "$conf")"
h=$T/node/certs.d/quay.io/hosts.toml
grep -qx 'server = "https://quay.io"' "$h" &&
	grep -qx "\[host.\"http://127.0.0.1:$P/v2/quay.io\"\]" "$h" &&
	grep -qx '  capabilities = \["pull", "resolve"\]' "$h" &&
	grep -qx '  override_path = true' "$h" || fail "quay.io hosts.toml: $(cat "$h")"
h=$T/node/certs.d/127.0.0.1:$P/hosts.toml
grep -qx "server = \"http://127.0.0.1:$P\"" "$h" && grep -qx "\[host.\"http://127.0.0.1:$P\"\]" "$h" &&
	! grep -q override_path "$h" || fail "the mirror's hosts.toml: $(cat "$h")"
# What containerd will ask with override_path: the host's path as written, then the API's rest.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$P/v2/quay.io/org/app/manifests/v1")" = 200 ] ||
	fail "the mirror does not serve /v2/quay.io/org/app"
ok "--out writes registries.conf (the mirror, quay.io mirrored at 127.0.0.1:$P/quay.io) and hosts.toml with override_path under /v2/quay.io"

# skopeo with nothing but the written registries.conf.
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
want=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$T/layout/index.json")
for ref in "quay.io/org/app:v1" "127.0.0.1:$P/library/app:v1"; do
	rm -rf "$T/back"
	skopeo --registries-conf "$conf" --policy "$T/policy.json" copy -q \
		"docker://$ref" "oci:$T/back:v1" 2>"$T/skopeo.err" ||
		fail "skopeo cannot pull $ref with the written registries.conf: $(cat "$T/skopeo.err")"
	[ "sha256:$(skopeo inspect --raw "oci:$T/back:v1" | sha256sum | cut -d' ' -f1)" = "$want" ] ||
		fail "$ref came back with another digest"
done
ok "skopeo pulls quay.io/org/app:v1 and 127.0.0.1:$P/library/app:v1 from the mirror with the written registries.conf alone"
