#!/usr/bin/env bash
# Forged bundles for the command tests: FORGE, the forge-bundle tool (a
# signed bundle from an OCI layout without the exporter's checks), and
# layout DIR, an empty OCI layout to fill. Source it after test-lib.sh.
FORGE=${FERRY_FORGE_BUNDLE:-$FERRY_BUILD_DIR/tests/forge-bundle}
[ -x "$FORGE" ] || fail "forge-bundle not found at $FORGE"

# layout DIR: an empty OCI layout.
layout() {
	mkdir -p "$1/blobs/sha256"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
	printf '{"schemaVersion":2,"manifests":[]}' >"$1/index.json"
}
