#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Acceptance test: "A bundle exported from an OCI layout with a multi-arch
# index, extracted with tar, is copied by skopeo into a real
# docker-registry on 127.0.0.1 and back with identical digests, and
# minisign -Vm accepts the detached signature."
# Digests are compared three ways for every reference (v1, multi, chart):
# the digest bound in the signed bundle manifest, what the registry serves
# (skopeo inspect --raw docker://, and the registry's Docker-Content-Digest
# header via curl), and what comes back into a fresh OCI layout; the
# multi index's per-platform manifests are checked by digest too.
need docker-registry skopeo jq curl minisign umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/registry.sh"

# skopeo copy needs a signature policy; do not depend on /etc/containers.
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
SK=(skopeo --policy "$T/policy.json")

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
"$FERRY" keygen -o "$T/key" >/dev/null
printf 'channel: demo\nexpires: 7d\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/spec.yaml"
mkdir "$T/bundles"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" --state "$T/state.db"
B=$T/bundles/ferry-demo-000001.tar

expect_exit 0 minisign -Vm "$B" -p "$T/key.pub"
expect_out "Signature and comment signature verified"
ok "minisign -Vm accepts the bundle's detached signature"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/key.pub" "$B"
ok "ferry verify accepts the bundle"

"$FERRY" inspect --json "$B" >"$T/inspect.json"
bound() { jq -r --arg r "library/app:$1" '.images[] | select(.reference == $r) | .digest' "$T/inspect.json"; }
srcdigest() {
	jq -r --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$T/layout/index.json"
}
for tag in v1 multi chart; do
	[ "$(bound $tag)" = "$(srcdigest $tag)" ] || fail "bundle binds $(bound $tag) to $tag, layout has $(srcdigest $tag)"
done
[ "$(jq -r '.images[] | select(.reference == "library/app:multi") | .mediaType' "$T/inspect.json")" = \
	application/vnd.oci.image.index.v1+json ] || fail "multi is not bound as an OCI index"
ok "the signed manifest binds v1, multi (an OCI index) and chart to the layout's digests"

X=$T/x
mkdir "$X"
tar -xf "$B" -C "$X"
ok "tar -xf extracts the bundle"

registry_start "$T/reg" || fail "could not start docker-registry"
at_exit registry_stop
case $REGISTRY_ADDR in 127.0.0.1:*) ;; *) fail "registry is not on 127.0.0.1: $REGISTRY_ADDR" ;; esac
ok "docker-registry runs on $REGISTRY_ADDR"

run() { # run CMD...: like expect_exit 0, with a clearer failure
	local got=0
	"$@" >"$T/out" 2>"$T/err" || got=$?
	[ "$got" = 0 ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $got"; }
}

Y=$T/y
for tag in v1 multi chart; do
	want=$(bound $tag)
	dst=docker://$REGISTRY_ADDR/library/app:$tag
	run "${SK[@]}" copy -q --all --dest-tls-verify=false "oci:$X:library/app:$tag" "$dst"

	# What the registry serves, via skopeo and via the raw HTTP API.
	run skopeo inspect --raw --tls-verify=false "$dst"
	reg=sha256:$(sha256sum <"$T/out" | cut -d' ' -f1)
	[ "$reg" = "$want" ] || fail "registry serves $tag as $reg, bundle binds $want"
	hdr=$(curl -sS -I --max-time 10 \
		-H 'Accept: application/vnd.oci.image.index.v1+json' \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$REGISTRY_ADDR/v2/library/app/manifests/$tag" |
		tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
	[ "$hdr" = "$want" ] || fail "registry's Docker-Content-Digest for $tag is '$hdr', want $want"

	# And back into a fresh OCI layout.
	run "${SK[@]}" copy -q --all --src-tls-verify=false "$dst" "oci:$Y:$tag"
	run skopeo inspect --raw "oci:$Y:$tag"
	back=sha256:$(sha256sum <"$T/out" | cut -d' ' -f1)
	[ "$back" = "$want" ] || fail "$tag came back as $back, bundle binds $want"
	ok "$tag: bundle $want = registry (skopeo, Docker-Content-Digest) = copied back"
done

# The per-platform manifests of multi, fetched by digest from the registry.
skopeo inspect --raw "oci:$X:library/app:multi" >"$T/multi.json"
[ "$(jq -r '[.manifests[].platform.architecture] | sort | join(",")' "$T/multi.json")" = amd64,arm64 ] ||
	fail "multi platforms: $(jq -c '[.manifests[].platform]' "$T/multi.json")"
n=0
for d in $(jq -r '.manifests[].digest' "$T/multi.json"); do
	run skopeo inspect --raw --tls-verify=false "docker://$REGISTRY_ADDR/library/app@$d"
	[ "sha256:$(sha256sum <"$T/out" | cut -d' ' -f1)" = "$d" ] || fail "registry serves child $d with other bytes"
	[ "$(sha256sum <"$Y/blobs/sha256/${d#sha256:}" | cut -d' ' -f1)" = "${d#sha256:}" ] ||
		fail "child manifest $d did not come back intact"
	n=$((n + 1))
done
[ "$n" = 2 ] || fail "multi has $n child manifests, want 2"
[ "$(bound v1)" = "$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$T/multi.json")" ] ||
	fail "multi's amd64 entry is not the v1 manifest"
ok "multi's amd64 and arm64 manifests are served by digest and came back intact"

# Every blob that came back hashes to its name, and the bundle's blobs are
# all among them (the round trip lost nothing).
for f in "$Y"/blobs/sha256/*; do
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "copied-back blob $f is corrupt"
done
jq -r '.members[].path' "$T/inspect.json" | grep '^blobs/' | while read -r p; do
	[ -f "$Y/$p" ] || fail "bundle blob $p did not come back from the registry"
done
ok "all bundle blobs came back from the registry, each hashing to its name"
