#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# ferry export of an OCI layout (tags v1, multi = 2-platform index, chart):
# the bundle verifies with ferry and with stock minisign; extracted with tar
# it is an OCI layout in which skopeo finds library/app:{v1,multi,chart}
# with exactly the digests ferry inspect reports and the source layout has;
# every member's bytes match the signed manifest; the source's blobs are
# all there. The sequence advances per channel (file name and manifest),
# --json output of export and inspect is well-formed, and an export never
# overwrites an existing bundle.
need jq skopeo minisign umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/src/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
"$FERRY" keygen -o "$T/key" >/dev/null
cat >"$T/src/spec.yaml" <<'EOF'
# the layout path is relative to this file's directory
channel: demo
expires: 7d
sources:
  - oci-layout: layout
    name: library/app
EOF
mkdir -p "$T/bundles" "$T/elsewhere"

# Run from an unrelated directory: the layout path must resolve against
# the spec's directory, not the working directory.
cd "$T/elsewhere"
expect_exit 0 "$FERRY" export -q --json --spec "$T/src/spec.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/state.db"
cp "$T/out" "$T/export1.json"
B1=$T/bundles/ferry-demo-000001.tar
[ -f "$B1" ] && [ -f "$B1.minisig" ] || fail "export wrote no $B1 (+ .minisig): $(ls "$T/bundles")"
[ "$(ls "$T/bundles" | wc -l)" = 2 ] || fail "unexpected files in out dir: $(ls "$T/bundles")"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "export wrote into the working directory"
ok "export writes ferry-demo-000001.tar and its .minisig, nothing else"

# ---- export --json ----------------------------------------------------------
jq -e . "$T/export1.json" >/dev/null || fail "export --json is not JSON: $(cat "$T/export1.json")"
[ "$(jq -r .channel "$T/export1.json")" = demo ] || fail "export --json channel"
[ "$(jq -r .sequence "$T/export1.json")" = 1 ] || fail "export --json sequence"
[ "$(jq -c .files "$T/export1.json")" = "[\"$B1\"]" ] ||
	fail "export --json files: $(jq -c .files "$T/export1.json")"
[ "$(jq -r .bytes "$T/export1.json")" = "$(stat -c %s "$B1")" ] || fail "export --json bytes != file size"
ok "export --json parses and lists the bundle file, channel, sequence, size"

# ---- verification -------------------------------------------------------------
expect_exit 0 "$FERRY" verify --trust-key "$T/key.pub" "$B1"
expect_out "$B1: OK channel demo sequence 1, signed by"
ok "ferry verify accepts the bundle"
expect_exit 0 minisign -Vm "$B1" -p "$T/key.pub"
expect_out "Signature and comment signature verified"
expect_out "channel=demo sequence=1"
ok "stock minisign -Vm accepts the detached signature (trusted comment names channel, sequence)"

# ---- inspect --json -------------------------------------------------------------
"$FERRY" inspect --json "$B1" >"$T/inspect1.json"
I=$T/inspect1.json
jq -e . "$I" >/dev/null || fail "inspect --json is not JSON"
[ "$(jq -r .channel "$I")" = demo ] || fail "inspect channel"
[ "$(jq -r .sequence "$I")" = 1 ] || fail "inspect sequence"
[ "$(jq -r .volumes "$I")" = 1 ] || fail "inspect volumes"
[ "$(jq -r .id "$I")" = "$(jq -r .id "$T/export1.json")" ] || fail "inspect id != export id"
[ "$(jq -r '[.images[].reference] | sort | join(" ")' "$I")" = \
	"library/app:chart library/app:multi library/app:v1" ] ||
	fail "inspect images: $(jq -c '[.images[].reference]' "$I")"
[ "$(jq -r '.members | length' "$I")" = "$(jq -r .members "$T/export1.json")" ] ||
	fail "member count differs between inspect and export --json"
[ "$(jq -r '[.signatures[].keyid] | join(" ")' "$I")" = "$(sed -n 's/.*public key \([0-9A-F]*\)$/\1/p' "$T/key.pub")" ] ||
	fail "inspect signatures do not list the signing key"
# created/expires: 7 days apart
c=$(date -u -d "$(jq -r .created "$I")" +%s) e=$(date -u -d "$(jq -r .expires "$I")" +%s)
[ $((e - c)) = $((7 * 86400)) ] || fail "expires - created = $((e - c)), want 7d"
ok "inspect --json shows channel demo, sequence 1, 3 images, members, signer, 7d expiry"

# The bundle carries exactly the source's blobs plus oci-layout and index.json.
(cd "$T/src/layout/blobs/sha256" && ls | sed 's|^|blobs/sha256/|') | sort >"$T/src-blobs"
jq -r '.members[].path' "$I" | grep '^blobs/' | sort >"$T/bundle-blobs"
cmp -s "$T/src-blobs" "$T/bundle-blobs" || { diff "$T/src-blobs" "$T/bundle-blobs" >&2; fail "bundle blobs differ from the layout's"; }
jq -r '.members[].path' "$I" | grep -qx oci-layout || fail "no oci-layout member"
jq -r '.members[].path' "$I" | grep -qx index.json || fail "no index.json member"
ok "bundle members: oci-layout, index.json and every blob of the source layout"

# ---- tar extraction ---------------------------------------------------------------
X=$T/x
mkdir "$X"
tar -xf "$B1" -C "$X"
jq -r '.members[] | "\(.sha256)  \(.path)"' "$I" >"$T/members.sha256"
(cd "$X" && sha256sum --quiet -c "$T/members.sha256") || fail "extracted members do not match the manifest's digests"
jq -r '.members[] | "\(.size) \(.path)"' "$I" | while read -r size path; do
	[ "$(stat -c %s "$X/$path")" = "$size" ] || fail "$path: size $(stat -c %s "$X/$path"), manifest says $size"
done
for f in "$X"/blobs/sha256/*; do
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "blob $f does not hash to its name"
done
ok "tar -xf gives every member with the manifest's size and sha256; blobs hash to their names"

[ "$(jq -r .imageLayoutVersion "$X/oci-layout")" = 1.0.0 ] || fail "extracted oci-layout"
for tag in v1 multi chart; do
	ref=library/app:$tag
	src=$(jq -r --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$T/src/layout/index.json")
	bound=$(jq -r --arg r "$ref" '.images[] | select(.reference == $r) | .digest' "$I")
	inidx=$(jq -r --arg r "$ref" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$X/index.json")
	got=0
	skopeo inspect --raw "oci:$X:$ref" >"$T/raw-$tag" 2>"$T/err" || got=$?
	[ "$got" = 0 ] || { cat "$T/err" >&2; fail "skopeo inspect --raw oci:X:$ref exited $got"; }
	raw=sha256:$(sha256sum <"$T/raw-$tag" | cut -d' ' -f1)
	[ -n "$src" ] && [ "$src" != null ] || fail "source layout has no tag $tag"
	[ "$raw" = "$bound" ] || fail "$ref: skopeo bytes hash to $raw, ferry inspect says $bound"
	[ "$raw" = "$src" ] || fail "$ref: skopeo bytes hash to $raw, source layout has $src"
	[ "$raw" = "$inidx" ] || fail "$ref: bundle index.json says $inidx"
	ok "skopeo inspect --raw oci:X:$ref = $raw = ferry inspect digest = source digest"
done
[ "$(jq -r .mediaType "$T/raw-multi")" = application/vnd.oci.image.index.v1+json ] || fail "multi is not an index"
[ "$(jq -r '[.manifests[].platform.architecture] | sort | join(",")' "$T/raw-multi")" = amd64,arm64 ] ||
	fail "multi platforms: $(jq -c '[.manifests[].platform]' "$T/raw-multi")"
for d in $(jq -r '.manifests[].digest' "$T/raw-multi"); do
	[ -f "$X/blobs/sha256/${d#sha256:}" ] || fail "multi's child manifest $d is missing from the bundle"
done
[ "$(jq -r '.images[] | select(.reference == "library/app:multi") | .mediaType' "$I")" = \
	application/vnd.oci.image.index.v1+json ] || fail "inspect mediaType for multi"
ok "multi is a 2-platform index (amd64, arm64) and both child manifests are in the bundle"

# ---- sequence numbers ---------------------------------------------------------------
expect_exit 0 "$FERRY" export -q --spec "$T/src/spec.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/state.db"
B2=$T/bundles/ferry-demo-000002.tar
[ -f "$B2" ] && [ -f "$B2.minisig" ] || fail "second export did not write $B2: $(ls "$T/bundles")"
expect_out "channel demo sequence 2"
[ "$("$FERRY" inspect --json "$B2" | jq -r .sequence)" = 2 ] || fail "second bundle's manifest sequence is not 2"
[ "$("$FERRY" inspect --json "$B2" | jq -r .id)" != "$(jq -r .id "$I")" ] || fail "second bundle has the first's id"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/key.pub" "$B1" "$B2"
expect_exit 0 minisign -Vm "$B2" -p "$T/key.pub"
expect_out "sequence=2"
ok "a second export on channel demo gets sequence 2 (file name, manifest, signature)"

# Another channel in the same state database starts at 1.
sed 's/^channel: demo$/channel: other/' "$T/src/spec.yaml" >"$T/src/other.yaml"
expect_exit 0 "$FERRY" export -q --json --spec "$T/src/other.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/state.db"
[ "$(jq -r .sequence "$T/out")" = 1 ] || fail "channel other did not start at 1"
[ -f "$T/bundles/ferry-other-000001.tar" ] || fail "no ferry-other-000001.tar"
ok "sequences are per channel: channel other starts at 1"

# A fresh state database would reuse sequence 1: export must refuse, not
# overwrite the existing bundle.
sum=$(sha256sum "$B1" "$B1.minisig")
expect_exit 1 "$FERRY" export -q --spec "$T/src/spec.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/fresh.db"
expect_err "ferry-demo-000001.tar' already exists"
[ "$(sha256sum "$B1" "$B1.minisig")" = "$sum" ] || fail "a refused export changed the existing bundle"
ls "$T/bundles" | grep -q '\.lock$' && fail "a refused export left a lock file"
ok "export refuses to overwrite an existing bundle (exit 1), leaves it untouched"

# The text output lists the file and the bundle id.
expect_exit 0 "$FERRY" export -q --spec "$T/src/spec.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/state.db"
expect_out "channel demo sequence 3: "
expect_out "0 image(s)"
expect_out "incremental on sequence 2: 0 image binding(s) added or moved, 0 removed; the channel binds 3"
expect_out "  $T/bundles/ferry-demo-000003.tar"
expect_out "bundle id $("$FERRY" inspect --json "$T/bundles/ferry-demo-000003.tar" | jq -r .id)"
ok "export's text output names sequence, images (none changed: the channel still binds 3), the file and the bundle id"
