#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Layer-level deltas: a 3-layer image is exported, one layer changes and
# the tag is pushed again; the next export on the same channel carries
# exactly the new layer, the new config and the new manifest, lists the two
# unchanged layers as prerequisites (and does not even download them),
# while --full and --since-sequence 0 carry everything again.
need docker-registry skopeo jq curl sha256sum tar
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"

# make_image DIR L1 L2 L3: an OCI layout, tag `img`, with three
# uncompressed tar layers holding the given files.
make_image() {
	local dir=$1 layers="" f t i=0
	shift
	mkdir -p "$dir/blobs/sha256"
	printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	for f in "$@"; do
		i=$((i + 1))
		mkdir -p "$T/l$i" && cp "$f" "$T/l$i/data$i.bin"
		tar -C "$T/l$i" -cf "$dir/layer.tar" --owner=0 --group=0 --numeric-owner --mtime=@0 "data$i.bin"
		rm -rf "$T/l$i"
		layers="$layers$(_put_blob "$dir" "$dir/layer.tar")"$'\n'
	done
	printf '%s' "$layers" | jq -Rcn '{architecture: "amd64", os: "linux",
		rootfs: {type: "layers", diff_ids: [inputs | select(length > 0) | "sha256:" + split(" ")[0]]}}' >"$dir/c.json"
	t=$(_put_blob "$dir" "$dir/c.json")
	printf '%s' "$layers" | jq -Rcn --arg c "sha256:${t% *}" --argjson cs "${t#* }" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [inputs | select(length > 0) | split(" ") |
			{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: ("sha256:" + .[0]), size: (.[1] | tonumber)}]}' >"$dir/m.json"
	t=$(_put_blob "$dir" "$dir/m.json")
	jq -cn --arg d "sha256:${t% *}" --argjson s "${t#* }" '{schemaVersion: 2, manifests: [{
		mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		annotations: {"org.opencontainers.image.ref.name": "img"}}]}' >"$dir/index.json"
}

for i in 1 2 3 4; do head -c $((200 * 1024)) /dev/urandom >"$T/f$i"; done
make_image "$T/one" "$T/f1" "$T/f2" "$T/f3"
make_image "$T/two" "$T/f1" "$T/f2" "$T/f4"

registry_start "$T/reg" || fail "could not start the registry"
at_exit "registry_stop '$T/reg'"
R=$REGISTRY_ADDR
push_layout "$T/one" img "$R/team/app:1.0"
# skopeo compresses the layers on the way in: take digests from the registry.
reg_digest "$R/team/app:1.0" >/dev/null
mapfile -t L1 < <(jq -r '.layers[].digest' "$T/raw")
ok "registry on $R holds team/app:1.0 with 3 layers"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
printf 'channel: inc\nsources:\n  - image: %s/team/app:1.0\n    insecure: true\n' "$R" >"$T/spec.yaml"
ex() { expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/state.db" "$@"; }
blobs() { "$FERRY" inspect --json "$1" | jq -r '.members[].path | select(startswith("blobs/")) | "sha256:" + ltrimstr("blobs/sha256/")' | sort; }
prereqs() { "$FERRY" inspect --json "$1" | jq -r '.prerequisites[]' | sort; }

ex --cache "$T/cache1"
B1=$T/bundles/ferry-inc-000001.tar
[ "$(blobs "$B1" | wc -l)" = 5 ] || fail "first bundle blobs: $(blobs "$B1")"
[ -z "$(prereqs "$B1")" ] || fail "a first bundle has prerequisites"
ok "sequence 1 carries manifest, config and 3 layers"

push_layout "$T/two" img "$R/team/app:1.0"
M2=$(reg_digest "$R/team/app:1.0")
C2=$(jq -r .config.digest "$T/raw")
mapfile -t L2 < <(jq -r '.layers[].digest' "$T/raw")
[ "${L1[0]}" = "${L2[0]}" ] && [ "${L1[1]}" = "${L2[1]}" ] && [ "${L1[2]}" != "${L2[2]}" ] ||
	fail "the registry's layers: ${L1[*]} then ${L2[*]}"
ex --cache "$T/cache2"
B2=$T/bundles/ferry-inc-000002.tar
expect_out "incremental on sequence 1: 2 blob(s) not carried (prerequisites)"
printf '%s\n' "$M2" "$C2" "${L2[2]}" | sort >"$T/want"
blobs "$B2" >"$T/got"
diff -u "$T/want" "$T/got" || fail "incremental bundle blobs"
printf '%s\n' "${L1[0]}" "${L1[1]}" | sort >"$T/want"
prereqs "$B2" >"$T/got"
diff -u "$T/want" "$T/got" || fail "incremental bundle prerequisites"
[ "$("$FERRY" inspect --json "$B2" | jq -r .baseSequence)" = 1 ] || fail "base sequence"
[ ! -e "$T/cache2/oci/blobs/sha256/${L1[0]#sha256:}" ] || fail "an unchanged layer was downloaded again"
"$FERRY" inspect "$B2" >"$T/insp"
grep -q "prerequisites (2 blob(s) the receiver must already hold)" "$T/insp" || fail "inspect text lacks prerequisites"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/key.pub" "$B2"
ok "sequence 2 carries exactly the new layer, config and manifest; 2 layers are prerequisites, not downloaded"

ex --cache "$T/cache2" --full
[ "$(blobs "$T/bundles/ferry-inc-000003.tar" | wc -l)" = 5 ] || fail "--full did not carry every blob"
[ -z "$(prereqs "$T/bundles/ferry-inc-000003.tar")" ] || fail "--full has prerequisites"
ex --cache "$T/cache2" --since-sequence 0
[ "$(blobs "$T/bundles/ferry-inc-000004.tar" | wc -l)" = 5 ] || fail "--since-sequence 0 did not carry every blob"
ex --cache "$T/cache2" --since-sequence 2
[ -z "$(blobs "$T/bundles/ferry-inc-000005.tar")" ] || fail "--since-sequence 2: $(blobs "$T/bundles/ferry-inc-000005.tar")"
"$FERRY" inspect --json "$T/bundles/ferry-inc-000005.tar" >"$T/i5.json"
[ "$(jq -r '.bindings, .baseSequence, (.images | length), .state.images' "$T/i5.json" | tr '\n' ' ')" = "changes 2 0 1 " ] ||
	fail "--since-sequence 2: $(jq -c '{bindings, baseSequence, images, state}' "$T/i5.json")"
expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache2" --since-sequence 9
expect_err "channel 'inc' has no bundle 9 yet (its last is 5)"
expect_exit 64 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --full --since-sequence 1
ok "--full and --since-sequence 0 carry everything; --since-sequence N counts bundles up to N; --since-sequence 2 carries nothing (the tag has not moved since 2); bad N is named"
