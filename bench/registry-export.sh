#!/usr/bin/env bash
# Registry export benchmark: how fast does `ferry export` pull ~SIZE_MIB of
# images from a local docker-registry into a signed bundle, compared with
# `skopeo copy docker://... oci:DIR` of the same images in the same run?
#
# usage: bench/registry-export.sh [SIZE_MIB] [WORKDIR]
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
#      layers), pushed to a docker-registry on 127.0.0.1 with
#      skopeo copy --preserve-digests
#   2. skopeo copy of both images to an oci: layout   (x2, second reported)
#   3. ferry export of both images with an empty cache (x2, second reported;
#      each run gets a fresh cache and state, so every blob is downloaded,
#      verified and written into the bundle)
# Throughput = payload bytes / wall time. Aim: ferry >= skopeo.
set -euo pipefail
shopt -s inherit_errexit

top=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${1:-${SIZE_MIB:-500}}
WORK=${2:-}
FERRY=${FERRY:-$top/build/cli/ferry}
die() { echo "registry-export: $*" >&2; exit 1; }
. "$top/bench/lib/registry-bench.sh"
registry_start "$WORK/reg" >/dev/null || die "cannot start docker-registry"
R=$REGISTRY_ADDR
for i in 1 2; do
	"${SK[@]}" copy -q --preserve-digests --dest-tls-verify=false \
		"oci:$WORK/img$i:big" "docker://$R/bench/img$i:big" >/dev/null
done
bytes=$(du -cb "$WORK"/img1/blobs/sha256/* "$WORK"/img2/blobs/sha256/* | tail -1 | cut -f1)
rm -rf "$WORK/img1" "$WORK/img2"

"$FERRY" keygen -o "$WORK/key" >/dev/null
printf 'channel: bench\nsources:\n  - image: %s/bench/img1:big\n    insecure: true\n  - image: %s/bench/img2:big\n    insecure: true\n' \
	"$R" "$R" >"$WORK/spec.yaml"

run_skopeo() {
	rm -rf "$WORK/sk"
	local s e
	s=$(now)
	for i in 1 2; do
		"${SK[@]}" copy -q --src-tls-verify=false "docker://$R/bench/img$i:big" "oci:$WORK/sk:img$i" >/dev/null
	done
	e=$(now)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
run_ferry() {
	rm -rf "$WORK/out" "$WORK/cache" "$WORK/state.db"
	mkdir "$WORK/out"
	local s e
	s=$(now)
	"$FERRY" export -q --spec "$WORK/spec.yaml" --key "$WORK/key.key" --out "$WORK/out" \
		--state "$WORK/state.db" --cache "$WORK/cache" >/dev/null
	e=$(now)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}

sk1=$(run_skopeo); sk2=$(run_skopeo)
fe1=$(run_ferry); fe2=$(run_ferry)
mbps() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / 1e6 / t }'; }
printf '\n%-34s %9s %9s %10s\n' command "run1 s" "run2 s" "MB/s"
printf '%-34s %9s %9s %10s\n' "skopeo copy docker:// -> oci:" "$sk1" "$sk2" "$(mbps "$sk2")"
printf '%-34s %9s %9s %10s\n' "ferry export (pull + bundle)" "$fe1" "$fe2" "$(mbps "$fe2")"
ratio=$(awk -v a="$sk2" -v b="$fe2" 'BEGIN { printf "%.2f", a / b }')
echo
echo "payload $bytes bytes; ferry export = ${ratio}x skopeo copy throughput (aim >= 1.00): $(
	awk -v r="$ratio" 'BEGIN { print (r >= 1.0) ? "AIM MET" : "AIM MISSED" }')"
