#!/usr/bin/env bash
# Seeding benchmark: how fast does `ferry seed` push ~SIZE_MIB of images
# from the store into an empty docker-registry, compared with
# `skopeo copy oci:DIR docker://...` of the same images in the same run?
#
# usage: bench/seed.sh [SIZE_MIB] [WORKDIR]
#
#   SIZE_MIB  payload of the test images (default 500), split over 2 images
#   WORKDIR   scratch directory; must not exist or be empty (default: a new
#             mktemp directory under /var/tmp). Needs about 5 x SIZE_MIB of
#             free space; removed at the end unless KEEP=1.
#
# Environment: FERRY=PATH (default <tree>/build/cli/ferry), KEEP=1.
#
# Steps (setup is not measured):
#   1. two layouts from tests/lib/oci-fixture.sh --big (random, uncompressed
#      layers), exported as one bundle and imported into a store
#   2. skopeo copy of both images from the store's OCI layout into a fresh
#      docker-registry (x2, each on an empty registry; second reported)
#   3. ferry seed of the store into a fresh docker-registry (x2 likewise)
#   4. ferry seed again into the registry it just filled (nothing to send)
# Throughput = payload bytes / wall time. Aim: ferry >= skopeo.
set -euo pipefail
shopt -s inherit_errexit

top=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${1:-${SIZE_MIB:-500}}
WORK=${2:-}
FERRY=${FERRY:-$top/build/cli/ferry}
die() { echo "seed-bench: $*" >&2; exit 1; }
BENCH_TOOLS=umoci
. "$top/bench/lib/registry-bench.sh"
"$FERRY" keygen -o "$WORK/key" >/dev/null
printf 'channel: bench\nsources:\n  - oci-layout: %s\n    name: bench/img1\n  - oci-layout: %s\n    name: bench/img2\n' \
	"$WORK/img1" "$WORK/img2" >"$WORK/spec.yaml"
mkdir "$WORK/out"
"$FERRY" export -q --spec "$WORK/spec.yaml" --key "$WORK/key.key" --out "$WORK/out" \
	--state "$WORK/state.db" >/dev/null
"$FERRY" trust init --store "$WORK/store" --key "$WORK/key.pub" >/dev/null
"$FERRY" import -q --no-seed --store "$WORK/store" "$WORK"/out/*.tar
bytes=$(du -cb "$WORK"/img1/blobs/sha256/* "$WORK"/img2/blobs/sha256/* | tail -1 | cut -f1)
rm -rf "$WORK/img1" "$WORK/img2" "$WORK/out"

fresh_registry() {
	registry_stop "$WORK/reg" >/dev/null 2>&1 || true
	rm -rf "$WORK/reg"
	registry_start "$WORK/reg" >/dev/null || die "cannot start docker-registry"
	R=$REGISTRY_ADDR
}
run_skopeo() {
	fresh_registry
	local s e i
	s=$(now)
	for i in 1 2; do
		"${SK[@]}" copy -q --dest-tls-verify=false "oci:$WORK/store:bench/img$i:big" \
			"docker://$R/bench/img$i:big" >/dev/null
	done
	e=$(now)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
run_ferry() {
	fresh_registry
	"$FERRY" target add reg --replace --store "$WORK/store" --kind oci --url "http://$R" >/dev/null
	local s e
	s=$(now)
	"$FERRY" seed -q --store "$WORK/store" --json >"$WORK/seed.json"
	e=$(now)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
mibs() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / 1048576 / t }'; }

run_skopeo >/dev/null
sk=$(run_skopeo)
run_ferry >/dev/null
fe=$(run_ferry)
pushed=$(jq '.targets[0].blobsPushed' "$WORK/seed.json")
s=$(now)
"$FERRY" seed -q --store "$WORK/store" --full --json >"$WORK/again.json"
e=$(now)
again=$(echo "$s $e" | awk '{printf "%.3f", $2 - $1}')
again_blobs=$(jq '.targets[0].blobsPushed' "$WORK/again.json")

printf 'payload: %d bytes (%.1f MiB)\n' "$bytes" "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')"
printf 'skopeo copy oci: -> docker://   %8.3f s  %8s MiB/s\n' "$sk" "$(mibs "$sk")"
printf 'ferry seed                      %8.3f s  %8s MiB/s  (%s blobs pushed)\n' "$fe" "$(mibs "$fe")" "$pushed"
printf 'ferry seed --full, again        %8.3f s  (%s blobs pushed)\n' "$again" "$again_blobs"
ratio=$(awk -v a="$sk" -v b="$fe" 'BEGIN { printf "%.2f", a / b }')
printf 'ratio ferry/skopeo throughput: %s (aim: >= 1.00) %s\n' "$ratio" \
	"$(awk -v r="$ratio" 'BEGIN { print (r >= 1.0) ? "met" : "NOT met" }')"
