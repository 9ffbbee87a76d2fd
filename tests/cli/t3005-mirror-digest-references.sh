#!/usr/bin/env bash
# References by digest ("library/app@sha256:<hex>", what an export names an
# index entry without a ref.name, and the referrers it collects) belong to
# their repository on the mirror: the repository is listed once in
# _catalog, the digest is no tag, the manifest is served by digest, and a
# referrer stored by digest is found by the referrers API (with its
# artifactType and annotations). A repository the store names only by
# digest is known to the mirror. The ':' of the digest used to be taken for
# a tag's, making a repository "library/app@sha256".
. "$(dirname "$0")/../lib/test-lib.sh"
need jq curl umoci
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/mirror.sh"
. "$SRC/tests/lib/seed.sh"

OCI_FIXTURE_CHART=0 make_oci_layout "$T/layout" 64 >/dev/null 2>"$T/fixture.log" ||
	{ cat "$T/fixture.log" >&2; fail fixture; }
ref_name=org.opencontainers.image.ref.name
subject=$(jq -c --arg n "$ref_name" '.manifests[] | select(.annotations[$n] == "v1") | {mediaType, digest, size}' "$T/layout/index.json")

m=$(seed_put_referrer "$T/layout" v1)
ref=${m% *}
# The referrer is listed without a ref.name: the export names it by digest.
jq --arg d "$ref" --argjson s "${m#* }" \
	'.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s}]' \
	"$T/layout/index.json" >"$T/index.tmp" && mv "$T/index.tmp" "$T/layout/index.json"
# A second layout holding only the referrer, for a repository known only by digest.
mkdir -p "$T/only"
cp -a "$T/layout/blobs" "$T/layout/oci-layout" "$T/only/"
jq --arg d "$ref" '.manifests |= map(select(.digest == $d))' "$T/layout/index.json" >"$T/only/index.json"

mirror_store_names "$T/store" "$T/layout" library/app "$T/only" team/only || fail "export and import"
"$FERRY" store ls --store "$T/store" --json >"$T/ls.json"
jq -e --arg r "library/app@$ref" '[.. | strings | select(. == $r)] | length > 0' "$T/ls.json" >/dev/null ||
	fail "the store does not name the referrer by digest: $(cat "$T/ls.json")"
ok "the store names the referrer library/app@$ref (and team/only@...)"

mirror_start "$T/store" || fail "mirror did not start"
at_exit mirror_stop
M=$MIRROR_URL
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }

[ "$(code "$M/v2/_catalog")" = 200 ] || fail "catalog"
[ "$(jq -c .repositories "$T/body")" = '["library/app","team/only"]' ] ||
	fail "catalog lists $(jq -c .repositories "$T/body")"
ok "_catalog lists library/app and team/only, and no repository named after a digest"

[ "$(code "$M/v2/library/app/tags/list")" = 200 ] || fail "tags/list"
[ "$(jq -c .tags "$T/body")" = '["multi","v1"]' ] || fail "tags are $(jq -c .tags "$T/body")"
[ "$(code "$M/v2/team/only/tags/list")" = 200 ] || fail "tags/list of a repository known by digest"
[ "$(jq -c .tags "$T/body")" = '[]' ] || fail "team/only has tags $(jq -c .tags "$T/body")"
ok "a digest is no tag: tags/list shows tags only"

for repo in library/app team/only; do
	[ "$(code -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$M/v2/$repo/manifests/$ref")" = 200 ] ||
		fail "$repo@$ref is not served ($(cat "$T/body"))"
	cmp -s "$T/body" "$T/referrer.json" || fail "$repo@$ref came back with other bytes"
done
[ "$(code "$M/v2/library/app@sha256/tags/list")" = 400 ] || fail "a name with '@' is not refused"
ok "the manifest named by digest is served from its repository"

[ "$(code "$M/v2/library/app/referrers/$(jq -r .digest <<<"$subject")")" = 200 ] || fail "referrers"
jq -e --arg d "$ref" '.manifests | length == 1 and .[0].digest == $d and
	.[0].artifactType == "application/spdx+json" and .[0].annotations["org.example.kind"] == "sbom"' \
	"$T/body" >/dev/null || fail "referrers: $(cat "$T/body")"
ok "the referrers API lists the referrer stored by digest, with artifactType and annotations"
