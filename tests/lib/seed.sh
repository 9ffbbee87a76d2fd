# Helpers for the seeding tests (sourced after test-lib.sh).
#
#   seed_store STORE LAYOUT NAME...     a store holding LAYOUT under each NAME
#                                       (one bundle, channel "seed")
#   seed_put_referrer LAYOUT TAG        write an SBOM-like artifact whose subject is
#                                       the manifest tagged TAG into LAYOUT's blobs
#                                       (not listed); prints "sha256:<hex> <size>"
#                                       ($T/referrer.json holds its bytes)
#   seed_add_referrer LAYOUT TAG        the same, listed in index.json as TAG-sbom
#   seed_check_registry ADDR REPO [CURL_ARGS...]
#                                       every tag of REPO on the registry names a
#                                       manifest whose blobs and children are all
#                                       present (fails the test otherwise)
#   seed_json_field FILE TARGET FIELD   a number from `ferry seed --json`

seed_store() {
	local store=$1 layout=$2 name
	shift 2
	"$FERRY" keygen -o "$T/seedkey" >/dev/null
	{
		printf 'channel: seed\nsources:\n'
		for name in "$@"; do
			printf '  - oci-layout: %s\n    name: %s\n' "$layout" "$name"
		done
	} >"$T/seedspec.yaml"
	mkdir -p "$T/seedout"
	"$FERRY" export -q --spec "$T/seedspec.yaml" --key "$T/seedkey.key" --out "$T/seedout" \
		--state "$T/seedstate.db" >/dev/null
	"$FERRY" trust init --store "$store" --key "$T/seedkey.pub" >/dev/null
	"$FERRY" import -q --no-seed --store "$store" "$T"/seedout/*.tar
}

_seed_put_blob() {   # LAYOUT FILE -> prints "sha256:<hex> <size>"
	local hex size
	hex=$(sha256sum "$2" | cut -d' ' -f1)
	size=$(stat -c %s "$2")
	cp "$2" "$1/blobs/sha256/$hex"
	echo "sha256:$hex $size"
}

seed_put_referrer() {
	local layout=$1 tag=$2 subject cfg sbom
	subject=$(jq -c --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | {mediaType, digest, size}' "$layout/index.json")
	printf '{}' >"$T/empty.json"
	printf '{"spdxVersion":"SPDX-2.3","name":"%s"}' "$tag" >"$T/sbom.json"
	cfg=$(_seed_put_blob "$layout" "$T/empty.json")
	sbom=$(_seed_put_blob "$layout" "$T/sbom.json")
	jq -nc --arg cd "${cfg% *}" --argjson cs "${cfg#* }" --arg sd "${sbom% *}" \
		--argjson ss "${sbom#* }" --argjson subject "$subject" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		artifactType: "application/spdx+json",
		config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $cd, size: $cs},
		layers: [{mediaType: "application/spdx+json", digest: $sd, size: $ss}],
		subject: $subject, annotations: {"org.example.kind": "sbom"}}' >"$T/referrer.json"
	_seed_put_blob "$layout" "$T/referrer.json"
}

seed_add_referrer() {
	local layout=$1 tag=$2 m
	m=$(seed_put_referrer "$layout" "$tag")
	jq --arg d "${m% *}" --argjson s "${m#* }" --arg n "$tag-sbom" \
		'.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json",
		  digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $n}}]' \
		"$layout/index.json" >"$layout/index.json.tmp"
	mv "$layout/index.json.tmp" "$layout/index.json"
}

_seed_accept='application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json'

# _seed_check_manifest ADDR REPO REF CURL_ARGS...: REF's tree is complete.
_seed_check_manifest() {
	local addr=$1 repo=$2 ref=$3 body d code
	shift 3
	body=$(curl -sf "$@" -H "Accept: $_seed_accept" "http://$addr/v2/$repo/manifests/$ref") ||
		fail "registry: $repo:$ref names a manifest that is not there"
	for d in $(jq -r '.manifests[]?.digest' <<<"$body"); do
		_seed_check_manifest "$addr" "$repo" "$d" "$@"
	done
	for d in $(jq -r '(.config.digest // empty), (.layers[]?.digest)' <<<"$body"); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -I "$@" "http://$addr/v2/$repo/blobs/$d")
		[ "$code" = 200 ] || fail "registry: $repo:$ref refers to blob $d, which is missing ($code)"
	done
}

# seed_check_registry [--require] ADDR REPO CURL_ARGS...: every tag of REPO
# names a complete tree. With --require the repository must exist and hold
# at least one tag (after a kill it may not exist yet: no --require there).
seed_check_registry() {
	local require= addr repo list tags tag
	[ "$1" = --require ] && { require=1; shift; }
	addr=$1 repo=$2
	shift 2
	if ! list=$(curl -sf "$@" "http://$addr/v2/$repo/tags/list"); then
		[ -z "$require" ] || fail "registry: cannot list the tags of $repo"
		return 0
	fi
	tags=$(jq -r '.tags[]?' <<<"$list")
	[ -z "$require" ] || [ -n "$tags" ] || fail "registry: $repo has no tags"
	for tag in $tags; do
		_seed_check_manifest "$addr" "$repo" "$tag" "$@"
	done
}

seed_json_field() {
	jq -r --arg t "$2" --arg f "$3" '.targets[] | select(.target == $t) | .[$f]' "$1"
}
