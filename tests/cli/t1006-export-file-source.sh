#!/usr/bin/env bash
# A `file:` source carries any files as an OCI artifact: a real .deb and a
# binary are exported, imported, listed by store ls, written back by
# `ferry store get` byte for byte, copied whole by skopeo from the store's
# layout, and served by the mirror (curl by digest, skopeo from the
# registry API). The next bundle carries only the file that changed. Spec
# mistakes and files that cannot be carried are refused by name, and
# `store get` refuses what is not a file artifact and never writes over a
# directory.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq skopeo dpkg-deb sha256sum curl umoci
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/mirror.sh"
at_exit mirror_stop

# ---- the files: a real Debian package and a binary ----------------------------
mkdir -p "$T/pkg/DEBIAN" "$T/pkg/usr/bin" "$T/files" "$T/bundles"
printf 'Package: hello-ferry\nVersion: 1.0\nArchitecture: all\nMaintainer: Site <ops@example.com>\nDescription: test package\n' \
	>"$T/pkg/DEBIAN/control"
printf '#!/bin/sh\necho hello\n' >"$T/pkg/usr/bin/hello-ferry"
chmod 755 "$T/pkg/usr/bin/hello-ferry"
dpkg-deb --root-owner-group -b "$T/pkg" "$T/files/hello-ferry_1.0_all.deb" >/dev/null
head -c 2000000 /dev/urandom >"$T/files/tool"
"$FERRY" keygen -o "$T/k" >/dev/null
cat >"$T/spec.yaml" <<'EOF'
channel: tools
sources:
  - file: files
    name: tools/bundle
    tag: "2026.12"
  - file: files/tool
    name: tools/single
    tag: v1
    artifact-type: application/vnd.example.tool.v1
EOF
expect_exit 0 "$FERRY" export -q --json --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
[ "$(jq -r .sequence "$T/out")" = 1 ] || fail "export --json: $(cat "$T/out")"
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
expect_exit 0 "$FERRY" import -q --no-seed --store "$T/store" "$T/bundles/ferry-tools-000001.tar"
expect_exit 0 "$FERRY" store ls --json --store "$T/store"
for ref in tools/bundle:2026.12 tools/single:v1; do
	jq -e ".images[] | select(.reference == \"$ref\")" "$T/out" >/dev/null ||
		fail "store ls does not list $ref: $(cat "$T/out")"
done
ok "a directory and a single file export and import as two artifacts, listed by store ls"

# ---- the artifact as OCI clients see it -----------------------------------------
skopeo inspect --raw "oci:$T/store:tools/bundle:2026.12" >"$T/manifest.json"
[ "$(jq -r '.artifactType, .config.mediaType' "$T/manifest.json" | tr '\n' ' ')" = \
	"application/vnd.ferry.files.v1 application/vnd.oci.empty.v1+json " ] ||
	fail "manifest: $(cat "$T/manifest.json")"
[ "$(jq -r '[.layers[].annotations["org.opencontainers.image.title"]] | join(",")' "$T/manifest.json")" = \
	"hello-ferry_1.0_all.deb,tool" ] || fail "layer titles: $(cat "$T/manifest.json")"
[ "$(skopeo inspect --raw "oci:$T/store:tools/single:v1" | jq -r .artifactType)" = \
	application/vnd.example.tool.v1 ] || fail "artifact-type not applied"
deb_digest=$(jq -r '.layers[] | select(.annotations["org.opencontainers.image.title"] == "hello-ferry_1.0_all.deb") | .digest' "$T/manifest.json")
[ "$deb_digest" = "sha256:$(sha256sum <"$T/files/hello-ferry_1.0_all.deb" | cut -d' ' -f1)" ] ||
	fail "the .deb layer's digest is not the file's"
skopeo copy -q "oci:$T/store:tools/bundle:2026.12" "oci:$T/copy:x" 2>"$T/err" ||
	{ cat "$T/err" >&2; fail "skopeo cannot copy the artifact out of the store"; }
cmp "$T/copy/blobs/sha256/${deb_digest#sha256:}" "$T/files/hello-ferry_1.0_all.deb" ||
	fail "skopeo's copy of the .deb differs"
ok "an oras-style artifact: empty config, titled layers, artifact type; skopeo copies it whole"

# ---- ferry store get ------------------------------------------------------------
expect_exit 0 "$FERRY" store get --json --store "$T/store" tools/bundle:2026.12 -o "$T/got"
[ "$(jq -r '.files | join(",")' "$T/out")" = "hello-ferry_1.0_all.deb,tool" ] || fail "store get --json: $(cat "$T/out")"
cmp "$T/got/hello-ferry_1.0_all.deb" "$T/files/hello-ferry_1.0_all.deb" || fail ".deb differs after store get"
cmp "$T/got/tool" "$T/files/tool" || fail "tool differs after store get"
dpkg-deb -f "$T/got/hello-ferry_1.0_all.deb" Package | grep -qx hello-ferry || fail "the .deb does not read back"
expect_exit 0 "$FERRY" store get --store "$T/store" "tools/single@$(skopeo inspect --raw "oci:$T/store:tools/single:v1" | sha256sum | sed 's/ .*//;s/^/sha256:/')" -o "$T/got-digest"
cmp "$T/got-digest/tool" "$T/files/tool" || fail "store get by digest"
ls "$T/got" | grep -q '\.lock$' && fail "store get left a lock file"
ok "store get writes the files back byte for byte, by tag and by digest"

mkdir -p "$T/clash/tool"
expect_exit 1 "$FERRY" store get --store "$T/store" tools/single:v1 -o "$T/clash"
expect_err "not a regular file"
[ -d "$T/clash/tool" ] && [ -z "$(ls -A "$T/clash/tool")" ] || fail "store get wrote into a directory"
expect_exit 1 "$FERRY" store get --store "$T/store" tools/none:v1 -o "$T/none"
expect_err "the store has no 'tools/none:v1'"
[ ! -e "$T/none" ] || fail "a failed store get created its directory"
make_oci_layout "$T/layout" 8 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
mirror_store "$T/istore" "$T/layout" >/dev/null
expect_exit 1 "$FERRY" store get --store "$T/istore" library/app:v1 -o "$T/img"
expect_err "is not a file artifact: layer"
expect_exit 1 "$FERRY" store get --store "$T/istore" library/app:multi -o "$T/img"
expect_err "multi-platform index, not a file artifact"
[ ! -e "$T/img" ] || fail "a refused store get wrote something"
ok "store get refuses images, indexes, missing references and a directory in the way, writing nothing"

# ---- the mirror serves it ----------------------------------------------------------
mirror_start "$T/store" || fail "mirror did not start"
curl -sf -o "$T/served.deb" "$MIRROR_URL/v2/tools/bundle/blobs/$deb_digest" || fail "mirror blob GET"
cmp "$T/served.deb" "$T/files/hello-ferry_1.0_all.deb" || fail "the mirror served other bytes"
skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$MIRROR_PORT/tools/bundle:2026.12" \
	"oci:$T/mcopy:x" 2>"$T/err" || { cat "$T/err" >&2; fail "skopeo cannot pull the artifact from the mirror"; }
cmp "$T/mcopy/blobs/sha256/${deb_digest#sha256:}" "$T/files/hello-ferry_1.0_all.deb" ||
	fail "skopeo's pull from the mirror differs"
mirror_stop
ok "the mirror serves the artifact: curl by digest and skopeo pull, byte-identical"

# ---- incremental: only what changed travels -------------------------------------------
printf 'more\n' >>"$T/files/tool"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
"$FERRY" inspect --json "$T/bundles/ferry-tools-000002.tar" >"$T/inspect.json"
tar -tf "$T/bundles/ferry-tools-000002.tar" >"$T/members"
grep -q "${deb_digest#sha256:}" "$T/members" && fail "the unchanged .deb travelled again"
new_tool=$(sha256sum <"$T/files/tool" | cut -d' ' -f1)
grep -q "$new_tool" "$T/members" || fail "the changed file is not in bundle 2"
expect_exit 0 "$FERRY" import -q --no-seed --store "$T/store" "$T/bundles/ferry-tools-000002.tar"
expect_exit 0 "$FERRY" store get --store "$T/store" tools/bundle:2026.12 -o "$T/got2"
cmp "$T/got2/tool" "$T/files/tool" && cmp "$T/got2/hello-ferry_1.0_all.deb" "$T/files/hello-ferry_1.0_all.deb" ||
	fail "files after the incremental import"
ok "bundle 2 carries only the changed file; the enclave gets both back"

# ---- what a file source refuses ---------------------------------------------------------
bad() { # YAML-SOURCE-BODY EXPECTED-MESSAGE
	printf 'channel: bad\nsources:\n  - %s\n' "$1" >"$T/bad.yaml"
	expect_exit 1 "$FERRY" export -q --spec "$T/bad.yaml" --key "$T/k.key" --out "$T/bundles" \
		--state "$T/bad.db" --cache "$T/cache"
	expect_err "$2"
}
bad 'file: files
    name: tools/x' "a file source needs 'name' and 'tag'"
bad 'file: files
    name: Tools/X
    tag: v1' "is not an OCI reference"
bad 'file: missing
    name: tools/x
    tag: v1' "cannot read 'missing'"
bad 'file: files
    name: tools/x
    tag: v1
    mode: fast' "unknown key 'mode'"
mkdir -p "$T/linkdir" "$T/dotdir"
ln -s "$T/files/tool" "$T/linkdir/tool"
cp "$T/files/tool" "$T/dotdir/.hidden"
bad "file: $T/linkdir
    name: tools/x
    tag: v1" "is not a regular file"
bad "file: $T/dotdir
    name: tools/x
    tag: v1" "file name '.hidden' cannot be carried"
[ ! -e "$T/bundles/ferry-bad-000001.tar" ] || fail "a refused spec wrote a bundle"
ok "missing name or tag, bad grammar, a missing path, unknown keys, links and dot files are refused"
