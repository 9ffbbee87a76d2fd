#!/usr/bin/env bash
# Image closure benchmark: what does discovering the images of 50
# deployments cost an export (check out, render, resolve each image's
# digest), next to the time of pulling one layer with skopeo in the same
# run?
#
# usage: bench/closure.sh [SIZE_MIB] [WORKDIR]
#
#   SIZE_MIB  payload of the two test images (default 64); one layer each
#             up to 256 MiB
#   WORKDIR   scratch directory; must not exist or be empty (default: a new
#             mktemp directory under /var/tmp); removed unless KEEP=1
#
# Environment: FERRY=PATH (default <tree>/build/cli/ferry), KEEP=1.
#
# Steps (setup is not measured):
#   1. two layouts from tests/lib/oci-fixture.sh --big, pushed to a
#      docker-registry on 127.0.0.1, each under 25 tags (app-N:1.0)
#   2. a git repository with 50 deployments (plain manifests, a Deployment
#      with an initContainer and a container each: 100 image uses, 50
#      distinct images)
#   3. skopeo copy of one image (one layer) to an oci: layout (x2, second
#      reported)
#   4. ferry export of the 50 images listed under `images:` and of the same
#      images found as the closure of the 50 deployments, both after a first
#      run that filled the cache (x2, second reported), so both download
#      nothing and the difference is the discovery
set -euo pipefail
shopt -s inherit_errexit

top=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${1:-${SIZE_MIB:-64}}
WORK=${2:-}
FERRY=${FERRY:-$top/build/cli/ferry}
N=50
die() { echo "closure: $*" >&2; exit 1; }
BENCH_TOOLS=git
. "$top/bench/lib/registry-bench.sh"
registry_start "$WORK/reg" >/dev/null || die "cannot start docker-registry"
R=$REGISTRY_ADDR
for i in $(seq 1 $N); do
	img=$(( (i - 1) % 2 + 1 ))
	"${SK[@]}" copy -q --preserve-digests --dest-tls-verify=false \
		"oci:$WORK/img$img:big" "docker://$R/bench/app-$i:1.0" >/dev/null
done
rm -rf "$WORK/img1" "$WORK/img2"

G=$WORK/deploy
for i in $(seq 1 $N); do
	mkdir -p "$G/apps/app-$i"
	cat >"$G/apps/app-$i/deploy.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: app-$i}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-$i}
spec:
  template:
    spec:
      initContainers: [{name: init, image: "$R/bench/app-$i:1.0"}]
      containers: [{name: app, image: "$R/bench/app-$i:1.0"}]
YAML
done
git -C "$G" init -q -b main && git -C "$G" add . &&
	git -C "$G" -c user.name=b -c user.email=b@e commit -qm deploy

"$FERRY" keygen -o "$WORK/key" >/dev/null
{
	printf 'channel: bench\nsources:\n  - git: %s\n    name: deploy\n' "$G"
	for i in $(seq 1 $N); do printf '  - image: %s/bench/app-%s:1.0\n    insecure: true\n' "$R" "$i"; done
} >"$WORK/listed.yaml"
{
	printf 'channel: bench\nsources:\n  - git: %s\n    name: deploy\ndeployments:\n' "$G"
	for i in $(seq 1 $N); do
		printf '  - name: app-%s\n    source: {git: deploy, branch: main, path: apps/app-%s}\n    format: manifests\n' "$i" "$i"
	done
	printf 'registries:\n  "%s": {insecure: true}\n' "$R"
} >"$WORK/closure.yaml"

run_skopeo() {
	rm -rf "$WORK/sk"
	local s e
	s=$(now)
	"${SK[@]}" copy -q --src-tls-verify=false "docker://$R/bench/app-1:1.0" "oci:$WORK/sk:one" >/dev/null
	e=$(now)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
run_ferry() { # SPEC
	rm -rf "$WORK/out" "$WORK/state.db"
	mkdir "$WORK/out"
	local s e
	s=$(now)
	"$FERRY" export -q --spec "$1" --key "$WORK/key.key" --out "$WORK/out" \
		--state "$WORK/state.db" --cache "$WORK/cache" >/dev/null
	e=$(now)
	[ "$(ls "$WORK/out"/*.tar | wc -l)" = 1 ] || die "no bundle from $1"
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}

sk1=$(run_skopeo); sk2=$(run_skopeo)
li1=$(run_ferry "$WORK/listed.yaml"); li2=$(run_ferry "$WORK/listed.yaml")
cl1=$(run_ferry "$WORK/closure.yaml"); cl2=$(run_ferry "$WORK/closure.yaml")
printf '\n%-46s %9s %9s\n' command "run1 s" "run2 s"
printf '%-46s %9s %9s\n' "skopeo copy of one image (one layer)" "$sk1" "$sk2"
printf '%-46s %9s %9s\n' "ferry export, $N images listed" "$li1" "$li2"
printf '%-46s %9s %9s\n' "ferry export, closure of $N deployments" "$cl1" "$cl2"
disc=$(awk -v a="$cl2" -v b="$li2" 'BEGIN { d = a - b; printf "%.3f", d < 0 ? 0 : d }')
echo
# The listed export can take longer than the closure one (it resolves 50
# tags named in the spec; the closure resolves what the renders name): the
# difference is then printed as it is and the discovery counted as 0.
awk -v a="$cl2" -v b="$li2" 'BEGIN { if (a < b) printf "the closure export took %.3f s less than the listed one\n", b - a }'
echo "discovery of $N deployments: ${disc} s ($(awk -v d="$disc" -v n=$N 'BEGIN { printf "%.1f", d * 1000 / n }') ms a deployment);" \
	"pulling one $((SIZE_MIB / 2)) MiB layer with skopeo: ${sk2} s;" \
	"ratio $(awk -v d="$disc" -v s="$sk2" 'BEGIN { printf "%.2f", d / s }')"
