#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Images and charts pulled from a real docker-registry (A, filled by skopeo
# from umoci-built layouts): tags resolve to digests bound in the signed
# manifest; the bundle, extracted with tar, is copied by skopeo into a
# second registry (B) with identical manifest digests for every image and
# chart; a cosign-style .sig tag travels with its image unless
# `referrers: false`; `platforms:` rewrites the index honestly;
# `require-pinned` rejects tags; `images:` reads an image list.
need docker-registry skopeo jq curl umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
registry_start "$T/regA" || fail "could not start registry A"
at_exit "registry_stop '$T/regA'"
A=$REGISTRY_ADDR
registry_start "$T/regB" || fail "could not start registry B"
at_exit "registry_stop '$T/regB'"
B=$REGISTRY_ADDR
for t in v1 multi chart; do push_layout "$T/layout" $t "$A/library/app:$t"; done
V1=$(reg_digest "$A/library/app:v1")
MULTI=$(reg_digest "$A/library/app:multi")
CHART=$(reg_digest "$A/library/app:chart")
make_sig_layout "$T/sig" "$V1"
push_layout "$T/sig" sig "$A/library/app:sha256-${V1#sha256:}.sig"
SIG=$(reg_digest "$A/library/app:sha256-${V1#sha256:}.sig")
ok "registry A on $A holds v1, multi (2 platforms), chart and a .sig for v1"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
ex() { # ex NAME SPEC-BODY [ARGS...]: export spec NAME, output in $T/out, $T/err
	local name=$1 body=$2
	shift 2
	printf 'channel: %s\nsources:\n%s' "$name" "$body" >"$T/$name.yaml"
	expect_exit "${WANT:-0}" "$FERRY" export -q --spec "$T/$name.yaml" --key "$T/key.key" \
		--out "$T/bundles" --state "$T/state.db" --cache "$T/cache" "$@"
}

ex rt "  - image: $A/library/app:v1
    insecure: true
  - image: $A/library/app:multi
    insecure: true
  - chart: oci://$A/library/app:chart
    insecure: true
    name: charts/demo
"
BND=$T/bundles/ferry-rt-000001.tar
expect_exit 0 "$FERRY" verify -q --trust-key "$T/key.pub" "$BND"
"$FERRY" inspect --json "$BND" >"$T/rt.json"
bound() { jq -r --arg r "$1" '.images[] | select(.reference == $r) | .digest' "$T/rt.json"; }
[ "$(bound library/app:v1)" = "$V1" ] || fail "v1 bound to $(bound library/app:v1), registry has $V1"
[ "$(bound library/app:multi)" = "$MULTI" ] || fail "multi bound to $(bound library/app:multi)"
[ "$(bound charts/demo:chart)" = "$CHART" ] || fail "chart bound to $(bound charts/demo:chart)"
[ "$(bound "library/app:sha256-${V1#sha256:}.sig")" = "$SIG" ] || fail "the .sig tag was not carried: $(jq -c .images "$T/rt.json")"
ok "tags resolve to the registry's digests; the .sig referrer travels with v1"

mkdir "$T/x"
tar -xf "$BND" -C "$T/x"
for ref in library/app:v1 library/app:multi charts/demo:chart "library/app:sha256-${V1#sha256:}.sig"; do
	"${SK[@]}" copy -q --all --dest-tls-verify=false "oci:$T/x:$ref" "docker://$B/$ref" >"$T/cp.log" 2>&1 ||
		{ cat "$T/cp.log" >&2; fail "skopeo copy oci:$ref to B"; }
	[ "$(reg_digest "$B/$ref")" = "$(bound "$ref")" ] || fail "$ref: B serves $(reg_digest "$B/$ref"), bundle binds $(bound "$ref")"
done
for d in $(jq -r '.manifests[].digest' "$T/x/blobs/sha256/${MULTI#sha256:}"); do
	[ "$(reg_digest "$B/library/app@$d")" = "$d" ] || fail "B lacks multi's child $d"
done
ok "round trip A -> export -> tar x -> skopeo copy -> B: identical digests for every image, chart and the .sig"

# referrers: false leaves the signature behind.
ex noref "  - image: $A/library/app:v1
    insecure: true
    referrers: false
"
"$FERRY" inspect --json "$T/bundles/ferry-noref-000001.tar" | jq -r '.images[].reference' >"$T/refs"
[ "$(cat "$T/refs")" = library/app:v1 ] || fail "referrers: false still carried: $(cat "$T/refs")"
ok "referrers: false carries only the image"

# platforms: the index is rewritten to the chosen platform.
ex plat "  - image: $A/library/app:multi
    insecure: true
    referrers: false
    platforms: [linux/arm64]
"
P=$T/bundles/ferry-plat-000001.tar
"$FERRY" inspect --json "$P" >"$T/plat.json"
NEW=$(jq -r '.images[0].digest' "$T/plat.json")
[ "$NEW" != "$MULTI" ] || fail "a filtered index kept the original digest"
mkdir "$T/p" && tar -xf "$P" -C "$T/p"
[ "sha256:$(sha256sum <"$T/p/blobs/sha256/${NEW#sha256:}" | cut -d' ' -f1)" = "$NEW" ] || fail "rewritten index blob"
jq -e '.manifests | length == 1 and .[0].platform.architecture == "arm64"' "$T/p/blobs/sha256/${NEW#sha256:}" >/dev/null ||
	fail "rewritten index: $(cat "$T/p/blobs/sha256/${NEW#sha256:}")"
ARM=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$T/x/blobs/sha256/${MULTI#sha256:}")
[ "$(jq -r '.manifests[0].digest' "$T/p/blobs/sha256/${NEW#sha256:}")" = "$ARM" ] || fail "arm64 manifest digest changed"
AMD=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$T/x/blobs/sha256/${MULTI#sha256:}")
[ ! -e "$T/p/blobs/sha256/${AMD#sha256:}" ] || fail "the amd64 manifest is in a linux/arm64 bundle"
[ "$(jq -r '.manifests[0].annotations["io.ferry.original-digest"]' "$T/p/index.json")" = "$MULTI" ] || fail "original digest annotation"
"${SK[@]}" copy -q --all --dest-tls-verify=false "oci:$T/p:library/app:multi" "docker://$B/plat:multi" >"$T/cp.log" 2>&1 ||
	{ cat "$T/cp.log" >&2; fail "skopeo copy of the filtered index"; }
[ "$(reg_digest "$B/plat:multi")" = "$NEW" ] || fail "B serves the filtered index with another digest"
ok "platforms: [linux/arm64] binds a rewritten 1-entry index (original digest annotated); arm64 manifest unchanged; skopeo copies it"

WANT=1 ex nomatch "  - image: $A/library/app:multi
    insecure: true
    platforms: [linux/s390x]
"
expect_err "image '$A/library/app:multi': the index has no manifest for linux/s390x (it has linux/amd64, linux/arm64)"
ok "a platform the index lacks is named with what it has"

# require-pinned.
WANT=1 ex pin "  - image: $A/library/app:v1
    insecure: true
    require-pinned: true
"
expect_err "$T/pin.yaml:3: image source: '$A/library/app:v1' is not pinned: require-pinned wants a digest"
WANT=1 ex pin2 "  - image: $A/library/app
    insecure: true
    require-pinned: true
"
expect_err "no tag means 'latest'"
ex pin3 "  - image: $A/library/app:v1@$V1
    insecure: true
    require-pinned: true
    referrers: false
"
[ "$("$FERRY" inspect --json "$T/bundles/ferry-pin3-000001.tar" | jq -r '.images[0] | .reference + " " + .digest')" = "library/app:v1 $V1" ] ||
	fail "pinned reference binding"
ok "require-pinned rejects tags and 'latest'; tag@digest binds name:tag to the digest"

# images: an image list.
printf '# images for the enclave\n\n%s/library/app:v1   # the app\n  %s/library/app@%s\n' "$A" "$A" "$MULTI" >"$T/images.txt"
ex list "  - images: images.txt
    insecure: true
    referrers: false
"
"$FERRY" inspect --json "$T/bundles/ferry-list-000001.tar" | jq -r '.images[] | .reference + " " + .digest' | sort >"$T/list"
printf 'library/app:v1 %s\nlibrary/app@%s %s\n' "$V1" "$MULTI" "$MULTI" | sort >"$T/list.want"
diff -u "$T/list.want" "$T/list" || fail "images list bindings"
printf '%s/library/app:v1\nnot a reference\n' "$A" >"$T/bad.txt"
WANT=1 ex badlist "  - images: bad.txt
    insecure: true
"
expect_err "bad.txt:2: one reference per line (found a space)"
ok "images: reads an image list (comments, blank lines, digests) and names a bad line"

# Unknown tags and repositories name the image.
WANT=1 ex missing "  - image: $A/library/app:nope
    insecure: true
"
expect_err "image '$A/library/app:nope': manifest 'nope' not found (HTTP 404)"
ok "a missing tag is named with its image"
