#!/usr/bin/env bash
# Build OCI image layouts for ferry's tests, fully offline.
#
# Source it and call the functions:
#   . tests/lib/oci-fixture.sh
#   make_oci_layout DIR [SIZE_KIB]      # tags v1, multi, chart
#   make_big_oci_layout DIR SIZE_MIB    # tag big, ~SIZE_MIB MiB of layers
# or run it:
#   tests/lib/oci-fixture.sh DIR [SIZE_KIB]
#   tests/lib/oci-fixture.sh --big DIR SIZE_MIB
#
# DIR must not exist yet, or be an empty directory.
#
# make_oci_layout writes:
#   v1     linux/amd64 image, cmd /bin/sh, two layers: busybox (+ /bin/sh
#          symlink) and /data/random.bin (SIZE_KIB KiB from /dev/urandom,
#          default 64, so every fixture has different digests)
#   multi  image index (application/vnd.oci.image.index.v1+json) with a
#          linux/amd64 (the v1 manifest) and a linux/arm64 manifest
#   chart  Helm-chart-shaped artifact (helm config + chart tar+gzip layer);
#          set OCI_FIXTURE_CHART=0 to leave it out
#
# make_big_oci_layout writes one tag, big: uncompressed tar layers
# (application/vnd.oci.image.layer.v1.tar) of at most 256 MiB, each holding
# one random file, totalling SIZE_MIB MiB of payload.
#
# Needs: umoci, jq, sha256sum, GNU tar, gzip, and a static busybox at
# /bin/busybox (busybox-static; override with OCI_FIXTURE_BUSYBOX).
#
# Each function call runs this file in a new bash process, so a failing step
# always aborts the build, even when the caller tests the result with if/||.
# Sourcing this file does not change the caller's shell options.

OCI_FIXTURE_SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

make_oci_layout() {
	bash "$OCI_FIXTURE_SELF" "$@"
}

make_big_oci_layout() {
	bash "$OCI_FIXTURE_SELF" --big "$@"
}

# ---------------------------------------------------------------------------
# Everything below runs only inside the child process (script mode).

_oci_die() {
	echo "oci-fixture: $*" >&2
	exit 1
}

_oci_need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || _oci_die "missing tool: $tool"
	done
}

# Create DIR's parent and make sure DIR itself is free for a new layout.
_oci_prepare_dir() {
	local dir=$1
	if [ -d "$dir" ]; then
		rmdir "$dir" 2>/dev/null || _oci_die "$dir exists and is not empty"
	elif [ -e "$dir" ]; then
		_oci_die "$dir exists and is not a directory"
	fi
	mkdir -p "$(dirname "$dir")"
}

_oci_work=
_oci_out=
_oci_cleanup() {
	local rc=$?
	if [ -n "$_oci_work" ]; then
		rm -rf "$_oci_work"
	fi
	# Leave no half-built layout behind.
	if [ "$rc" -ne 0 ] && [ -n "$_oci_out" ]; then
		rm -rf "$_oci_out"
	fi
}

# Scratch space, removed when the process exits; OUT is removed too if
# the build fails.
_oci_mkwork() {
	_oci_out=$1
	_oci_work=$(mktemp -d "${TMPDIR:-/tmp}/oci-fixture.XXXXXX")
	trap _oci_cleanup EXIT
}

_oci_size() {
	wc -c <"$1" | tr -d ' '
}

# _oci_put_blob LAYOUT FILE: move FILE into LAYOUT's blob store and print
# "HEX SIZE".
_oci_put_blob() {
	local layout=$1 file=$2 hex size
	hex=$(sha256sum "$file" | cut -d' ' -f1)
	size=$(_oci_size "$file")
	mv "$file" "$layout/blobs/sha256/$hex"
	echo "$hex $size"
}

# _oci_add_ref LAYOUT MEDIATYPE HEX SIZE NAME: add a tagged descriptor to
# LAYOUT/index.json.
_oci_add_ref() {
	local layout=$1 mt=$2 hex=$3 size=$4 name=$5
	jq --arg mt "$mt" --arg d "sha256:$hex" --argjson s "$size" --arg n "$name" \
		'.manifests += [{mediaType: $mt, digest: $d, size: $s,
		  annotations: {"org.opencontainers.image.ref.name": $n}}]' \
		"$layout/index.json" >"$layout/index.json.tmp"
	mv "$layout/index.json.tmp" "$layout/index.json"
}

# Print the index.json descriptor tagged NAME (compact JSON).
_oci_ref_desc() {
	jq -ce --arg n "$2" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n)' \
		"$1/index.json"
}

_oci_is_count() {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	esac
	[ "$1" -gt 0 ]
}

# Small fixture: v1, multi and (by default) chart.
_oci_build_small() {
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then
		_oci_die "usage: make_oci_layout DIR [SIZE_KIB]"
	fi
	local dir=$1 kib=${2:-64}
	local busybox=${OCI_FIXTURE_BUSYBOX:-/bin/busybox}
	_oci_is_count "$kib" || _oci_die "SIZE_KIB must be a positive integer: $kib"
	_oci_need umoci jq sha256sum tar gzip
	[ -x "$busybox" ] || _oci_die "no busybox at $busybox (install busybox-static)"
	_oci_prepare_dir "$dir"
	_oci_mkwork "$dir"
	local w=$_oci_work

	# v1, layer 1: busybox and the /bin/sh symlink.
	umoci init --layout "$dir"
	umoci new --image "$dir:v1"
	umoci unpack --rootless --image "$dir:v1" "$w/bundle"
	mkdir -p "$w/bundle/rootfs/bin"
	cp "$busybox" "$w/bundle/rootfs/bin/busybox"
	ln -s busybox "$w/bundle/rootfs/bin/sh"
	umoci repack --image "$dir:v1" "$w/bundle"

	# v1, layer 2: random data, unique to this fixture.
	mkdir -p "$w/data"
	head -c "$((kib * 1024))" /dev/urandom >"$w/data/random.bin"
	umoci insert --rootless --image "$dir:v1" "$w/data" /data

	umoci config --image "$dir:v1" --config.cmd /bin/sh --architecture amd64 --os linux

	# arm64 twin: same layers, different config, hence a different manifest.
	umoci config --image "$dir:v1" --tag arm64-tmp --architecture arm64 --os linux

	# multi: an image index over both manifests, stored as a blob.
	local amd arm idx
	amd=$(_oci_ref_desc "$dir" v1) || _oci_die "tag v1 missing"
	arm=$(_oci_ref_desc "$dir" arm64-tmp) || _oci_die "tag arm64-tmp missing"
	jq -cn --argjson amd "$amd" --argjson arm "$arm" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [
			($amd | del(.annotations)) + {platform: {architecture: "amd64", os: "linux"}},
			($arm | del(.annotations)) + {platform: {architecture: "arm64", os: "linux"}}
		]}' >"$w/index-multi.json"
	umoci rm --image "$dir:arm64-tmp"
	idx=$(_oci_put_blob "$dir" "$w/index-multi.json")
	_oci_add_ref "$dir" application/vnd.oci.image.index.v1+json "${idx% *}" "${idx#* }" multi

	# Drop blobs of intermediate images. umoci's gc follows nested indexes,
	# so everything multi references is kept.
	umoci gc --layout "$dir"

	if [ "${OCI_FIXTURE_CHART:-1}" != 0 ]; then
		_oci_add_chart "$dir" "$w"
	fi
}

# chart: a manifest shaped like the ones `helm push` writes.
_oci_add_chart() {
	local dir=$1 w=$2 cfg layer man
	mkdir -p "$w/chart/demo"
	printf 'apiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: ferry test chart\n' \
		>"$w/chart/demo/Chart.yaml"
	tar -C "$w/chart" -cf - --owner=0 --group=0 --numeric-owner --mtime=@0 demo |
		gzip -n >"$w/chart.tgz"
	printf '%s' '{"name":"demo","version":"0.1.0","apiVersion":"v2"}' >"$w/chart-config.json"
	cfg=$(_oci_put_blob "$dir" "$w/chart-config.json")
	layer=$(_oci_put_blob "$dir" "$w/chart.tgz")
	jq -cn --arg c "sha256:${cfg% *}" --argjson cs "${cfg#* }" \
		--arg l "sha256:${layer% *}" --argjson ls "${layer#* }" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.cncf.helm.config.v1+json", digest: $c, size: $cs},
		layers: [{mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
			digest: $l, size: $ls}]
		}' >"$w/chart-manifest.json"
	man=$(_oci_put_blob "$dir" "$w/chart-manifest.json")
	_oci_add_ref "$dir" application/vnd.oci.image.manifest.v1+json "${man% *}" "${man#* }" chart
}

# Big fixture: tag big, random uncompressed tar layers.
_oci_build_big() {
	[ $# -eq 2 ] || _oci_die "usage: make_big_oci_layout DIR SIZE_MIB"
	local dir=$1 mib=$2
	_oci_is_count "$mib" || _oci_die "SIZE_MIB must be a positive integer: $mib"
	_oci_need jq sha256sum tar
	_oci_prepare_dir "$dir"
	_oci_mkwork "$dir"
	local w=$_oci_work

	mkdir -p "$dir/blobs/sha256"
	printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '%s' '{"schemaVersion":2,"manifests":[]}' >"$dir/index.json"

	# Split into n nearly equal layers of at most 256 MiB.
	local n=$(((mib + 255) / 256)) i part hexsize layers=""
	for i in $(seq 0 $((n - 1))); do
		part=$((mib / n + (i < mib % n ? 1 : 0)))
		hexsize=$(_oci_big_layer "$dir" "$w" "$i" "$((part * 1024 * 1024))")
		layers="$layers$hexsize"$'\n'
	done

	# Uncompressed layers: each diff_id equals the layer digest.
	local cfg man
	printf '%s' "$layers" | jq -Rcn '{
		architecture: "amd64", os: "linux",
		config: {Cmd: ["/bin/sh"]},
		rootfs: {type: "layers",
			diff_ids: [inputs | select(length > 0) | "sha256:" + split(" ")[0]]}
		}' >"$w/config.json"
	cfg=$(_oci_put_blob "$dir" "$w/config.json")
	printf '%s' "$layers" | jq -Rcn --arg c "sha256:${cfg% *}" --argjson cs "${cfg#* }" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [inputs | select(length > 0) | split(" ") |
			{mediaType: "application/vnd.oci.image.layer.v1.tar",
			 digest: ("sha256:" + .[0]), size: (.[1] | tonumber)}]
		}' >"$w/manifest.json"
	man=$(_oci_put_blob "$dir" "$w/manifest.json")
	_oci_add_ref "$dir" application/vnd.oci.image.manifest.v1+json "${man% *}" "${man#* }" big
}

# _oci_big_layer LAYOUT WORK INDEX BYTES: write a tar holding one file of
# BYTES random bytes straight into the blob store; print "HEX SIZE".
# The random data is streamed once: the tar header is taken from a sparse
# placeholder file of the same size (a ustar header does not depend on the
# content), then the data, padding and the end-of-archive blocks follow.
_oci_big_layer() {
	local dir=$1 w=$2 i=$3 bytes=$4 name hex tmp
	name=data/layer$i.bin
	mkdir -p "$w/hdr/data"
	truncate -s "$bytes" "$w/hdr/$name"
	# tar is cut off after the header (SIGPIPE), so its status is ignored.
	{ tar -C "$w/hdr" -cf - --format=ustar --owner=0 --group=0 --numeric-owner \
		--mode=0644 --mtime=@0 "$name" 2>/dev/null || true; } |
		head -c 512 >"$w/header"
	rm -f "$w/hdr/$name"
	[ "$(_oci_size "$w/header")" = 512 ] || _oci_die "could not build tar header"

	tmp="$dir/blobs/sha256/.layer$i.tmp"
	hex=$({
		cat "$w/header"
		head -c "$bytes" /dev/urandom
		head -c "$(((512 - bytes % 512) % 512))" /dev/zero
		head -c 1024 /dev/zero
	} | tee "$tmp" | sha256sum | cut -d' ' -f1)
	mv "$tmp" "$dir/blobs/sha256/$hex"
	echo "$hex $(_oci_size "$dir/blobs/sha256/$hex")"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	shopt -s inherit_errexit
	case ${1:-} in
	--big)
		shift
		_oci_build_big "$@"
		;;
	'' | -h | --help)
		echo "usage: $0 DIR [SIZE_KIB] | $0 --big DIR SIZE_MIB" >&2
		exit 2
		;;
	*) _oci_build_small "$@" ;;
	esac
fi
