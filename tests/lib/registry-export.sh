#!/usr/bin/env bash
# Helpers for the registry export tests (tests/cli/t12NN-export-registry-*.sh).
# Source after test-lib.sh, oci-fixture.sh and registry.sh.
#
#   SK=(skopeo --policy ...)          set by this file
#   push_layout LAYOUT TAG DEST       skopeo copy --all oci:LAYOUT:TAG docker://DEST
#   make_sig_layout DIR SUBJECT       an OCI layout with tag `sig`: a cosign-style
#                                     signature manifest (simplesigning layer)
#                                     naming SUBJECT (sha256:<hex>)
#   reg_digest REF [CREDS]            sha256 of the manifest bytes the registry
#                                     serves for docker://REF

printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
SK=(skopeo --policy "$T/policy.json")

push_layout() {
	"${SK[@]}" copy -q --all --dest-tls-verify=false ${PUSH_CREDS:+--dest-creds "$PUSH_CREDS"} \
		"oci:$1:$2" "docker://$3" >"$T/push.log" 2>&1 ||
		{ cat "$T/push.log" >&2; fail "skopeo could not push $1:$2 to $3"; }
}

_put_blob() { # LAYOUT FILE -> "HEX SIZE"
	local hex size
	hex=$(sha256sum "$2" | cut -d' ' -f1)
	size=$(wc -c <"$2" | tr -d ' ')
	mv "$2" "$1/blobs/sha256/$hex"
	echo "$hex $size"
}

make_sig_layout() {
	local dir=$1 subject=$2 cfg layer man
	mkdir -p "$dir/blobs/sha256"
	printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	jq -cn --arg d "$subject" '{critical: {identity: {"docker-reference": "app"},
		image: {"docker-manifest-digest": $d}, type: "cosign container image signature"},
		optional: null}' >"$dir/payload.json"
	printf '%s' '{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}' \
		>"$dir/config.json"
	cfg=$(_put_blob "$dir" "$dir/config.json")
	layer=$(_put_blob "$dir" "$dir/payload.json")
	jq -cn --arg c "sha256:${cfg% *}" --argjson cs "${cfg#* }" \
		--arg l "sha256:${layer% *}" --argjson ls "${layer#* }" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [{mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
			digest: $l, size: $ls,
			annotations: {"dev.cosignproject.cosign/signature": "MEUCIQDfake"}}]}' >"$dir/m.json"
	man=$(_put_blob "$dir" "$dir/m.json")
	jq -cn --arg d "sha256:${man% *}" --argjson s "${man#* }" '{schemaVersion: 2,
		manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
		digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "sig"}}]}' \
		>"$dir/index.json"
}

reg_digest() {
	skopeo inspect --raw --tls-verify=false ${2:+--creds "$2"} "docker://$1" >"$T/raw" 2>"$T/raw.err" ||
		{ cat "$T/raw.err" >&2; fail "skopeo inspect docker://$1"; }
	echo "sha256:$(sha256sum <"$T/raw" | cut -d' ' -f1)"
}
