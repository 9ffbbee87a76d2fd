#!/usr/bin/env bash
# The mirror's pull side against the OCI distribution specification (v1.1,
# spec.md), driven with curl against the real `ferry mirror serve`. Each
# check names the section of the specification it comes from ("Pulling
# manifests", "Listing Tags", ...) and, for Range and entity tags, RFC 9110.
# Written from the specification's requirements for the Pull and Content
# Discovery categories (every MUST of pulling manifests and blobs, checking
# existence, listing tags, listing referrers with and without a filter) and
# its error codes; the mirror is read-only, so the Push and Content
# Management categories are refused with the spec's UNSUPPORTED code.
#
# The store holds two repositories from two layouts: library/app (v1, multi,
# chart, and two referrers of v1: an SBOM with artifactType and annotations,
# and a signature-like artifact without artifactType) and team/other (v1,
# an image whose one layer is library/app's busybox layer). Content is served only
# under a repository whose tags reach it (a registry's isolation).
. "$(dirname "$0")/../lib/test-lib.sh"
need jq curl umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/mirror.sh"
. "$SRC/tests/lib/seed.sh"

make_oci_layout "$T/app" 64 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
# team/other: one image whose only layer is v1's first (busybox).
mkdir -p "$T/other/blobs/sha256"
cp "$T/app/oci-layout" "$T/other/"
v1m=$T/app/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$T/app/index.json" | cut -d: -f2)
for d in $(jq -r '.config.digest, .layers[0].digest' "$v1m"); do
	cp "$T/app/blobs/sha256/${d#sha256:}" "$T/other/blobs/sha256/"
done
jq -c '.layers |= .[:1] | .annotations = {"org.example.repo": "other"}' "$v1m" >"$T/other-manifest.json"
h=$(sha256sum "$T/other-manifest.json" | cut -d' ' -f1)
cp "$T/other-manifest.json" "$T/other/blobs/sha256/$h"
jq -n --arg d "sha256:$h" --argjson s "$(stat -c %s "$T/other-manifest.json")" '{schemaVersion: 2,
	manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
	annotations: {"org.opencontainers.image.ref.name": "v1"}}]}' >"$T/other/index.json"
seed_add_referrer "$T/app" v1
sbom=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1-sbom") | .digest' "$T/app/index.json")

# A second referrer of v1 without artifactType: its type is its config's.
ref_name=org.opencontainers.image.ref.name
put_blob() { local h; h=$(sha256sum "$2" | cut -d' ' -f1); cp "$2" "$1/blobs/sha256/$h"; echo "sha256:$h $(stat -c %s "$2")"; }
subject=$(jq -c --arg n "$ref_name" '.manifests[] | select(.annotations[$n] == "v1") | {mediaType, digest, size}' "$T/app/index.json")
printf '{"sig":"demo"}' >"$T/sigcfg.json"
printf 'signature bytes' >"$T/sig.bin"
c=$(put_blob "$T/app" "$T/sigcfg.json")
l=$(put_blob "$T/app" "$T/sig.bin")
jq -nc --arg cd "${c% *}" --argjson cs "${c#* }" --arg ld "${l% *}" --argjson ls "${l#* }" \
	--argjson subject "$subject" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.example.signature.config.v1+json", digest: $cd, size: $cs},
	layers: [{mediaType: "application/octet-stream", digest: $ld, size: $ls}],
	subject: $subject}' >"$T/sig.json"
s=$(put_blob "$T/app" "$T/sig.json")
sig=${s% *}
jq --arg d "$sig" --argjson s "${s#* }" --arg n "$ref_name" \
	'.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
	  annotations: {($n): "v1-sig"}}]' "$T/app/index.json" >"$T/i.tmp" && mv "$T/i.tmp" "$T/app/index.json"

mirror_store_names "$T/store" "$T/app" library/app "$T/other" team/other || fail "export and import"

mirror_start "$T/store" || fail "mirror did not start"
at_exit mirror_stop
M=$MIRROR_URL
A=$M/v2/library/app
O=$M/v2/team/other

# code [CURL_ARGS] URL: the status; the body in $T/body, headers in $T/hdr.
code() { curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@"; tr -d '\r' <"$T/hdr" >"$T/hdr.txt"; }
header() { sed -n "s/^$1: //Ip" "$T/hdr.txt" | tail -n 1; }
digest_of() { jq -r --arg n "$ref_name" --arg t "$2" '.manifests[] | select(.annotations[$n] == $t) | .digest' "$1/index.json"; }
body_digest() { echo "sha256:$(sha256sum <"$T/body" | cut -d' ' -f1)"; }
# err STATUS CODE: the answer is STATUS with an error body whose first code is CODE.
err() {
	[ "$got" = "$1" ] || fail "wanted $1 $2, got $got: $(cat "$T/body")"
	jq -e --arg c "$2" '(.errors | type == "array") and .errors[0].code == $c and
		(.errors[0].message | type == "string")' "$T/body" >/dev/null ||
		fail "error body is not {errors:[{code:$2,message}]}: $(cat "$T/body")"
}
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json'
v1=$(digest_of "$T/app" v1)
multi=$(digest_of "$T/app" multi)
chart=$(digest_of "$T/app" chart)
other_v1=$(digest_of "$T/other" v1)

# --- Determining Support (end-1) --------------------------------------------
got=$(code "$M/v2/")
[ "$got" = 200 ] || fail "GET /v2/ answered $got"
ok "Determining Support: GET /v2/ is 200 OK (end-1)"

# --- Pulling manifests (end-3) ----------------------------------------------
for t in v1 multi chart; do
	got=$(code -H "$ACCEPT" "$A/manifests/$t")
	[ "$got" = 200 ] || fail "manifest $t answered $got"
	want=$(digest_of "$T/app" "$t")
	[ "$(body_digest)" = "$want" ] || fail "manifest $t is not the expected manifest"
	[ "$(header Docker-Content-Digest)" = "$want" ] || fail "Docker-Content-Digest of $t: $(header Docker-Content-Digest)"
	mt=$(jq -r --arg n "$ref_name" --arg t "$t" '.manifests[] | select(.annotations[$n] == $t) | .mediaType' "$T/app/index.json")
	[ "$(header Content-Type)" = "$mt" ] || fail "Content-Type of $t is $(header Content-Type), not $mt"
done
got=$(code -H "$ACCEPT" "$A/manifests/$v1")
[ "$got" = 200 ] && [ "$(body_digest)" = "$v1" ] || fail "manifest by digest"
ok "Pulling manifests: by tag and by digest, 200 with the expected manifest, its Content-Type and a matching Docker-Content-Digest"

got=$(code -H "$ACCEPT" "$A/manifests/nope"); err 404 MANIFEST_UNKNOWN
got=$(code -H "$ACCEPT" "$A/manifests/sha256:$(printf '%064d' 0)"); err 404 MANIFEST_UNKNOWN
ok "Pulling manifests: a manifest not found is 404 MANIFEST_UNKNOWN, by tag and by digest"

got=$(code -H "$ACCEPT" "$M/v2/no/such/manifests/v1"); err 404 NAME_UNKNOWN
got=$(code "$M/v2/no/such/blobs/$v1"); err 404 NAME_UNKNOWN
got=$(code "$M/v2/no/such/tags/list"); err 404 NAME_UNKNOWN
ok "Pushing Manifests (its last rule): pulling from a nonexistent repository is 404 (NAME_UNKNOWN)"

# --- Pulling blobs (end-2) --------------------------------------------------
layers=$(jq -r '.config.digest, .layers[].digest' "$T/app/blobs/sha256/${v1#sha256:}")
for b in $layers; do
	got=$(code "$A/blobs/$b")
	[ "$got" = 200 ] || fail "blob $b answered $got"
	[ "$(body_digest)" = "$b" ] || fail "blob $b came back with other bytes"
	[ "$(header Docker-Content-Digest)" = "$b" ] || fail "Docker-Content-Digest of blob $b"
done
got=$(code "$A/blobs/sha256:$(printf '%064d' 0)"); err 404 BLOB_UNKNOWN
ok "Pulling blobs: 200 with the blob, Docker-Content-Digest matching the body; a blob not found is 404 BLOB_UNKNOWN"

# --- Checking if content exists in the registry (HEAD, end-2/end-3) ----------
got=$(code -I -H "$ACCEPT" "$A/manifests/v1")
[ "$got" = 200 ] && [ "$(header Docker-Content-Digest)" = "$v1" ] &&
	[ "$(header Content-Length)" = "$(stat -c %s "$T/app/blobs/sha256/${v1#sha256:}")" ] ||
	fail "HEAD manifest: $got $(cat "$T/hdr.txt")"
b=$(jq -r '.layers[0].digest' "$T/app/blobs/sha256/${v1#sha256:}")
got=$(code -I "$A/blobs/$b")
[ "$got" = 200 ] && [ "$(header Docker-Content-Digest)" = "$b" ] &&
	[ "$(header Content-Length)" = "$(stat -c %s "$T/app/blobs/sha256/${b#sha256:}")" ] || fail "HEAD blob: $got"
[ "$(code -I "$A/manifests/nope")" = 404 ] || fail "HEAD of a missing manifest"
[ "$(code -I "$A/blobs/sha256:$(printf '%064d' 0)")" = 404 ] || fail "HEAD of a missing blob"
ok "Checking if content exists: HEAD is 200 with Docker-Content-Digest and Content-Length, 404 when not found"

# --- Repository isolation: content is served only where its tags reach it ---
busybox=$(jq -r '.layers[0].digest' "$T/app/blobs/sha256/${v1#sha256:}")
random=$(jq -r '.layers[1].digest' "$T/app/blobs/sha256/${v1#sha256:}")
[ "$busybox" = "$(jq -r '.layers[0].digest' "$T/other/blobs/sha256/${other_v1#sha256:}")" ] ||
	fail "fixture: the busybox layer is not shared"
[ "$(code "$O/blobs/$busybox")" = 200 ] || fail "a shared layer is not served under team/other"
got=$(code "$O/blobs/$random"); err 404 BLOB_UNKNOWN
got=$(code -I "$O/blobs/$random")
[ "$got" = 404 ] || fail "HEAD of another repository's blob answered $got"
got=$(code -H "$ACCEPT" "$O/manifests/$chart"); err 404 MANIFEST_UNKNOWN
got=$(code -H "$ACCEPT" "$O/manifests/$v1"); err 404 MANIFEST_UNKNOWN
got=$(code -H "$ACCEPT" "$A/manifests/$other_v1"); err 404 MANIFEST_UNKNOWN
[ "$(code -H "$ACCEPT" "$O/manifests/$other_v1")" = 200 ] || fail "team/other's own manifest by digest"
arm=$(jq -r '.manifests[1].digest' "$T/app/blobs/sha256/${multi#sha256:}")
[ "$(code -H "$ACCEPT" "$A/manifests/$arm")" = 200 ] || fail "a manifest below an index is not served"
ok "Checking if content exists / Pulling blobs: a repository holds only what its tags reach (a shared layer under both, another repository's blob or manifest 404)"

# --- Listing Tags (end-8a, end-8b) -------------------------------------------
got=$(code "$A/tags/list")
[ "$got" = 200 ] && [ "$(jq -c . "$T/body")" = '{"name":"library/app","tags":["chart","multi","v1","v1-sig","v1-sbom"]}' ] ||
	[ "$(jq -c . "$T/body")" = '{"name":"library/app","tags":["chart","multi","v1","v1-sbom","v1-sig"]}' ] ||
	fail "tags/list: $got $(cat "$T/body")"
[ "$(jq -c .tags "$T/body")" = "$(jq -c '.tags | sort' "$T/body")" ] || fail "tags are not in lexical order"
ok "Listing Tags: 200 with {name, tags} in lexical order (end-8a)"

got=$(code "$A/tags/list?n=0")
[ "$got" = 200 ] && [ "$(jq -c .tags "$T/body")" = '[]' ] || fail "n=0: $got $(cat "$T/body")"
grep -qi '^link:' "$T/hdr.txt" && fail "n=0 sent a Link header"
got=$(code "$A/tags/list?n=2")
[ "$(jq -c .tags "$T/body")" = '["chart","multi"]' ] || fail "n=2: $(cat "$T/body")"
[ "$(header Link)" = '</v2/library/app/tags/list?n=2&last=multi>; rel="next"' ] || fail "Link: $(header Link)"
got=$(code "$A/tags/list?n=2&last=multi")
[ "$(jq -c .tags "$T/body")" = '["v1","v1-sbom"]' ] || fail "n=2&last=multi: $(cat "$T/body")"
got=$(code "$A/tags/list?n=100")
[ "$(jq '.tags | length' "$T/body")" = 5 ] || fail "n above the count"
grep -qi '^link:' "$T/hdr.txt" && fail "a last page sent a Link header"
got=$(code "$A/tags/list?last=v1")
[ "$(jq -c .tags "$T/body")" = '["v1-sbom","v1-sig"]' ] || fail "last without n: $(cat "$T/body")"
got=$(code "$A/tags/list?n=x"); err 400 PAGINATION_NUMBER_INVALID
ok "Listing Tags: n=0 is an empty list without Link; n results and a Link while more remain; last is exclusive, n optional with it (end-8b)"

# --- Listing Referrers (end-12a, end-12b) ------------------------------------
got=$(code "$A/referrers/$v1")
[ "$got" = 200 ] || fail "referrers answered $got"
[ "$(header Content-Type)" = application/vnd.oci.image.index.v1+json ] || fail "referrers Content-Type: $(header Content-Type)"
jq -e '.schemaVersion == 2 and .mediaType == "application/vnd.oci.image.index.v1+json"' "$T/body" >/dev/null ||
	fail "referrers is not an image index: $(cat "$T/body")"
jq -e --arg s "$sbom" --arg g "$sig" '(.manifests | length) == 2 and
	([.manifests[] | select(.digest == $s and .artifactType == "application/spdx+json" and
	  .annotations["org.example.kind"] == "sbom" and .mediaType and .size > 0)] | length) == 1 and
	([.manifests[] | select(.digest == $g and
	  .artifactType == "application/vnd.example.signature.config.v1+json")] | length) == 1' "$T/body" >/dev/null ||
	fail "referrers: $(cat "$T/body")"
grep -qi '^oci-filters-applied:' "$T/hdr.txt" && fail "OCI-Filters-Applied without a filter"
ok "Listing Referrers: 200 with an image index of descriptors carrying artifactType (the config's when the manifest has none) and the manifest's annotations"

got=$(code "$A/referrers/$v1?artifactType=application/spdx%2Bjson")
[ "$got" = 200 ] || fail "filtered referrers answered $got"
jq -e --arg s "$sbom" '[.manifests[].digest] == [$s]' "$T/body" >/dev/null || fail "filter: $(cat "$T/body")"
[ "$(header OCI-Filters-Applied)" = artifactType ] || fail "no OCI-Filters-Applied: artifactType"
got=$(code "$A/referrers/$v1?artifactType=application/none")
[ "$got" = 200 ] && jq -e '.manifests == []' "$T/body" >/dev/null || fail "filter matching nothing"
ok "Listing Referrers: the artifactType filter applies and OCI-Filters-Applied: artifactType says so (end-12b)"

got=$(code "$A/referrers/sha256:$(printf '%064d' 0)")
[ "$got" = 200 ] && jq -e '.manifests == []' "$T/body" >/dev/null || fail "referrers of an unknown digest: $got"
got=$(code "$O/referrers/$v1")
[ "$got" = 200 ] && jq -e '.manifests == []' "$T/body" >/dev/null || fail "referrers are per repository: $(cat "$T/body")"
got=$(code "$A/referrers/sha256:abc"); err 400 DIGEST_INVALID
ok "Listing Referrers: 200 with an empty list for a digest without referrers, never 404; per repository; a bad digest is DIGEST_INVALID"

# --- Error Codes ------------------------------------------------------------
got=$(code "$M/v2/Library/App/manifests/v1"); err 400 NAME_INVALID
got=$(code "$A/blobs/sha256:1234"); err 400 DIGEST_INVALID
got=$(code "$A/blobs/md5:$(printf '%032d' 0)"); err 400 DIGEST_INVALID
for method in PUT POST PATCH DELETE; do
	got=$(code -X "$method" "$A/manifests/v1"); err 405 UNSUPPORTED
done
got=$(code -X POST "$A/blobs/uploads/"); err 405 UNSUPPORTED
ok "Error Codes: NAME_INVALID, DIGEST_INVALID, and UNSUPPORTED for the Push and Content Management endpoints of a read-only registry"

# --- Range and entity tags (RFC 9110) on blobs -------------------------------
size=$(stat -c %s "$T/app/blobs/sha256/${random#sha256:}")
got=$(code -H 'Range: bytes=0-9' "$A/blobs/$random")
[ "$got" = 206 ] && [ "$(stat -c %s "$T/body")" = 10 ] &&
	[ "$(header Content-Range)" = "bytes 0-9/$size" ] || fail "single range: $got"
got=$(code -H 'Range: bytes=0-1,5-6' "$A/blobs/$random")
[ "$got" = 200 ] && [ "$(body_digest)" = "$random" ] || fail "several ranges answered $got"
got=$(code -H 'Range: items=0-1' "$A/blobs/$random")
[ "$got" = 200 ] && [ "$(body_digest)" = "$random" ] || fail "an unknown unit answered $got"
got=$(code -H "Range: bytes=$size-" "$A/blobs/$random")
[ "$got" = 416 ] && [ "$(header Content-Range)" = "bytes */$size" ] || fail "unsatisfiable range answered $got"
[ "$(header ETag)" = "" ] || true
got=$(code "$A/blobs/$random")
[ "$(header ETag)" = "\"$random\"" ] || fail "ETag is not a quoted entity tag: $(header ETag)"
ok "RFC 9110: one range is 206, several ranges or another unit 200 with the whole body, past the end 416; the ETag is quoted"

# --- _catalog (distribution's extension) ------------------------------------
got=$(code "$M/v2/_catalog")
[ "$(jq -c .repositories "$T/body")" = '["library/app","team/other"]' ] || fail "catalog: $(cat "$T/body")"
got=$(code "$M/v2/_catalog?n=0")
[ "$(jq -c .repositories "$T/body")" = '[]' ] || fail "catalog n=0: $(cat "$T/body")"
grep -qi '^link:' "$T/hdr.txt" && fail "catalog n=0 sent a Link header"
ok "_catalog lists every repository by a valid name; n=0 is empty without Link"
