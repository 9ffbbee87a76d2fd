#!/usr/bin/env bash
# Load benchmark: ferry's mirror and a CNCF docker-registry serve the same
# content on 127.0.0.1 in the same run; wrk drives 64 concurrent clients at
# (1) one blob (throughput) and (2) one manifest by tag (latency p50/p99).
# Prints both servers' figures and the ratios. Not a pass/fail test.
#   bench/mirror-load.sh [SECONDS] [BLOB_MIB]      (defaults 10, 16)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
blob_mib=${2:-16}
FERRY=${FERRY:-$top/build/cli/ferry}
[ -x "$FERRY" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
for c in wrk docker-registry skopeo jq curl umoci; do
	command -v "$c" >/dev/null || { echo "needs $c (scripts/install-deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d /var/tmp/ferry-mirror-bench.XXXXXX)
export TMPDIR=$W/tmp
mkdir -p "$TMPDIR"
T=$W
. "$top/tests/lib/oci-fixture.sh"
. "$top/tests/lib/registry.sh"
. "$top/tests/lib/mirror.sh"
cleanup() { mirror_stop || true; registry_stop || true; rm -rf "$W"; }
trap cleanup EXIT

echo "== setup (not measured): one image with a ${blob_mib} MiB layer in both servers"
make_oci_layout "$W/layout" $((blob_mib * 1024)) >/dev/null 2>&1
mirror_store "$W/store" "$W/layout"
registry_start "$W/reg" >/dev/null
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$W/policy.json"
skopeo --policy "$W/policy.json" copy -q --all --preserve-digests --dest-tls-verify=false \
	"oci:$W/layout:v1" "docker://$REGISTRY_ADDR/library/app:v1"
mirror_start "$W/store" --threads 4 --max-per-client 256 --max-connections 1024
manifest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$W/layout/index.json")
layer=$(jq -r '[.layers[] | {d: .digest, s: .size}] | max_by(.s) | .d' "$W/layout/blobs/sha256/${manifest#sha256:}")
size=$(stat -c %s "$W/layout/blobs/sha256/${layer#sha256:}")
echo "blob $layer ($size bytes), manifest $manifest"
accept='Accept: application/vnd.oci.image.manifest.v1+json'

run() { # NAME URL [HEADER]: wrk with 64 connections; prints its report
	local args=(-t 2 -c 64 -d "${secs}s" --latency)
	[ -n "${3:-}" ] && args+=(-H "$3")
	wrk "${args[@]}" "$2" >"$W/$1.wrk"
}
# wrk's figures: requests/s and transfer/s, latency percentiles
rps() { awk '/^Requests\/sec/ { print $2 }' "$W/$1.wrk"; }
xfer() { awk '/^Transfer\/sec/ { v = $2; u = substr(v, length(v) - 1); n = v + 0;
	if (u == "GB") n *= 1024; if (u == "KB") n /= 1024; if (u ~ /[0-9]B/) n /= 1048576; print n }' "$W/$1.wrk"; }
pct() { awk -v p="$2" '$1 == p"%" { v = $2; n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n;
	else if (v ~ /s$/) n *= 1000; print n }' "$W/$1.wrk"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "== blobs: 64 clients for ${secs}s each"
run ferry-blob "http://127.0.0.1:$MIRROR_PORT/v2/library/app/blobs/$layer"
run registry-blob "http://$REGISTRY_ADDR/v2/library/app/blobs/$layer"
echo "== manifests by tag: 64 clients for ${secs}s each"
run ferry-manifest "http://127.0.0.1:$MIRROR_PORT/v2/library/app/manifests/v1" "$accept"
run registry-manifest "http://$REGISTRY_ADDR/v2/library/app/manifests/v1" "$accept"

for f in ferry-blob registry-blob ferry-manifest registry-manifest; do
	grep -q 'Non-2xx' "$W/$f.wrk" && { echo "$f: some requests failed:" >&2; cat "$W/$f.wrk" >&2; }
done
echo
printf '%-30s %14s %14s %8s\n' "" "ferry mirror" "docker-registry" "ratio"
fb=$(xfer ferry-blob); rb=$(xfer registry-blob)
printf '%-30s %14.1f %14.1f %8s\n' "blob throughput (MiB/s)" "$fb" "$rb" "$(ratio "$fb" "$rb")x"
fr=$(rps ferry-blob); rr=$(rps registry-blob)
printf '%-30s %14s %14s %8s\n' "blob requests/s" "$fr" "$rr" "$(ratio "$fr" "$rr")x"
fm=$(rps ferry-manifest); rm_=$(rps registry-manifest)
printf '%-30s %14s %14s %8s\n' "manifest requests/s" "$fm" "$rm_" "$(ratio "$fm" "$rm_")x"
f50=$(pct ferry-manifest 50); r50=$(pct registry-manifest 50)
f99=$(pct ferry-manifest 99); r99=$(pct registry-manifest 99)
printf '%-30s %14s %14s %8s\n' "manifest p50 latency (ms)" "$f50" "$r50" "$(ratio "$r50" "$f50")x"
printf '%-30s %14s %14s %8s\n' "manifest p99 latency (ms)" "$f99" "$r99" "$(ratio "$r99" "$f99")x"
echo "(latency ratios are docker-registry / ferry: above 1 means ferry is faster)"
echo
goal() { awk -v a="$1" 'BEGIN { exit !(a >= 1) }' && echo "GOAL MET" || echo "GOAL MISSED"; }
echo "blob throughput: $(ratio "$fb" "$rb")x docker-registry ($(goal "$(ratio "$fb" "$rb")"))"
echo "manifest p50: ferry $f50 ms vs $r50 ms; p99: ferry $f99 ms vs $r99 ms ($(goal "$(ratio "$r99" "$f99")") on p99)"
