#!/usr/bin/env bash
# Seeding never loses a reference silently: two store references that map
# to the same target reference after rewriting ("docker.io/library/x:v1"
# and "library/x:v1" with no rewrite rule) are refused before anything is
# pushed, each reported (text and --json), the others are pushed, the seed
# exits 1, and what the registry held under that name is not overwritten.
# A rewrite rule that keeps them apart seeds both.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/oci-fixture.sh"
need docker-registry skopeo umoci jq curl
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

export OCI_FIXTURE_CHART=0
make_oci_layout "$T/a" 16
make_oci_layout "$T/b" 24
make_oci_layout "$T/c" 8
"$FERRY" keygen -o "$T/k" >/dev/null
cat >"$T/spec.yaml" <<SPEC
channel: apps
sources:
  - oci-layout: $T/a
    name: docker.io/library/x
  - oci-layout: $T/b
    name: library/x
  - oci-layout: $T/a
    name: team/tools
SPEC
mkdir "$T/bundles"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db" >/dev/null ||
	fail "export"
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
"$FERRY" import -q --no-seed --store "$T/store" "$T"/bundles/*.tar || fail "import"

registry_start "$T/reg" || fail "registry did not start"
at_exit "registry_stop '$T/reg'"
reg=$REGISTRY_ADDR
export REGISTRY_AUTH_FILE=$T/none.json   # for skopeo, once the registry (which reads REGISTRY_*) runs
digest() { skopeo inspect --raw --tls-verify=false "docker://$reg/$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }
skopeo copy -q --dest-tls-verify=false oci:"$T/c":v1 "docker://$reg/library/x:v1" || fail "skopeo copy"
before=$(digest library/x:v1)

"$FERRY" target add site --store "$T/store" --kind oci --url "http://$reg" >/dev/null
expect_exit 1 "$FERRY" seed --store "$T/store"
for ref in docker.io/library/x:v1 library/x:v1 docker.io/library/x:multi library/x:multi; do
	expect_out "refused: $ref (as library/x:${ref##*:}): '"
done
expect_out "maps to the same target reference"
expect_exit 1 "$FERRY" seed --store "$T/store" --json
jq -e '.targets[0].ok == false and .targets[0].refsRefused == 4' "$T/out" >/dev/null ||
	{ cat "$T/out"; fail "--json: not ok=false with 4 refused"; }
jq -e '[.targets[0].refused[]] | any(startswith("docker.io/library/x:v1 (as library/x:v1): '"'"'library/x:v1'"'"'"))' \
	"$T/out" >/dev/null || { cat "$T/out"; fail "--json does not name the collision per reference"; }
[ "$(digest library/x:v1)" = "$before" ] || fail "library/x:v1 was overwritten"
curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.index.v1+json' \
	"http://$reg/v2/library/x/manifests/multi" && fail "library/x:multi was pushed"
[ "$(digest team/tools:v1)" = "$(sha256sum "$T/a/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$T/a/index.json" | cut -d: -f2)" | cut -d' ' -f1)" ] ||
	fail "team/tools:v1 is not the store's"
ok "colliding references refused before any push, each reported (text, --json), the rest pushed, exit 1, nothing overwritten"

"$FERRY" target add site --replace --store "$T/store" --kind oci --url "http://$reg" \
	--rewrite docker.io/library/=hub/library/ >/dev/null
expect_exit 0 "$FERRY" seed --store "$T/store"
[ -n "$(digest hub/library/x:v1)" ] || fail "hub/library/x:v1 missing"
[ "$(digest hub/library/x:v1)" != "$(digest library/x:v1)" ] || fail "the two references have one digest"
ok "a rewrite rule that keeps them apart seeds both"
