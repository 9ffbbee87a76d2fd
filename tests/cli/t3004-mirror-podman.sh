#!/usr/bin/env bash
# A container runtime pulls from the mirror: rootful podman, configured as in
# docs (the mirror as an insecure registry), pulls the single-arch image and
# the multi-arch index (its linux/amd64 manifest) with the digests the store
# binds.
. "$(dirname "$0")/../lib/test-lib.sh"
need podman jq umoci
[ "$(id -u)" = 0 ] || skip_all "rootful podman needs root"
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/mirror.sh"

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
mirror_store "$T/store" "$T/layout"
mirror_start "$T/store" || fail "mirror did not start"
at_exit mirror_stop

cat >"$T/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$T/registries.conf" <<CONF
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:$MIRROR_PORT"
insecure = true
CONF
export CONTAINERS_CONF=$T/containers.conf CONTAINERS_REGISTRIES_CONF=$T/registries.conf
# podman wants a short runroot path (under 50 characters)
PR=$(mktemp -d /tmp/fp.XXXXXX)
P=(podman --root "$PR/root" --runroot "$PR/run" --storage-driver vfs)
at_exit "${P[*]} rmi -a -f >/dev/null 2>&1; rm -rf '$PR'"

want() { jq -r --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$T/layout/index.json"; }
"${P[@]}" pull -q "127.0.0.1:$MIRROR_PORT/library/app:v1" >"$T/id" 2>"$T/pull.err" ||
	{ cat "$T/pull.err" >&2; fail "podman pull v1 from the mirror"; }
got=$("${P[@]}" image inspect --format '{{.Digest}}' "127.0.0.1:$MIRROR_PORT/library/app:v1")
[ "$got" = "$(want v1)" ] || fail "podman sees v1 as $got, want $(want v1)"
ok "podman pulls library/app:v1 from the mirror with the bound digest"

"${P[@]}" pull -q --arch amd64 "127.0.0.1:$MIRROR_PORT/library/app:multi" >/dev/null 2>"$T/pull.err" ||
	{ cat "$T/pull.err" >&2; fail "podman pull multi from the mirror"; }
amd64=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' \
	"$T/layout/blobs/sha256/$(want multi | cut -d: -f2)")
"${P[@]}" image inspect --format '{{.Digest}} {{.Architecture}}' "127.0.0.1:$MIRROR_PORT/library/app:multi" >"$T/inspect"
grep -q "amd64" "$T/inspect" || fail "pulled multi is not amd64: $(cat "$T/inspect")"
"${P[@]}" run --rm --network none "127.0.0.1:$MIRROR_PORT/library/app:v1" /bin/sh -c 'echo from-the-mirror' >"$T/run.out" 2>"$T/run.err" &&
	grep -q from-the-mirror "$T/run.out" && ok "podman runs the pulled image" ||
	echo "# podman run not possible here: $(head -c 200 "$T/run.err")"
ok "podman pulls the multi-arch index and picks linux/amd64 ($amd64)"
