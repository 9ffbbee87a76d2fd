#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# ferry export rejects bad input with exit 1 and a message naming the
# problem (and, for spec errors, the spec file and line): unknown keys,
# missing/empty fields, a bad channel name, bad expiry, unknown source
# kinds, missing layouts, and layouts whose content does not match its
# digests (corrupted layer blob, modified manifest, missing blob, wrong
# size). No failed export leaves any file in --out or uses up a sequence
# number: the next good export is still sequence 1. Usage errors exit 64.
need jq umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"

# Descriptor digest (hex) of tag $2 in layout $1.
tag_hex() {
	jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$1/index.json" | cut -d: -f2
}

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
STATE=$T/state.db

# export_fails SPECNAME TEXT...: exporting $T/SPECNAME exits 1, stderr has
# every TEXT, and --out stays empty.
export_fails() {
	local spec=$T/$1
	shift
	expect_exit 1 "$FERRY" export -q --spec "$spec" --key "$T/key.key" --out "$T/bundles" --state "$STATE"
	local t
	for t in "$@"; do expect_err "$t"; done
	[ -z "$(ls -A "$T/bundles")" ] || fail "failed export left files: $(ls -A "$T/bundles")"
}
spec() { cat >"$T/$1"; }

# ---- the spec itself ----------------------------------------------------------
spec unknown.yaml <<'EOF'
channel: demo
expires: 7d
bogus: 1
sources:
  - oci-layout: layout
EOF
export_fails unknown.yaml "ferry export: $T/unknown.yaml:3: unknown key 'bogus'"
ok "unknown top-level key: exit 1, '<spec>:3: unknown key 'bogus''"

spec nochannel.yaml <<'EOF'
expires: 7d
sources:
  - oci-layout: layout
EOF
export_fails nochannel.yaml "$T/nochannel.yaml:" "missing 'channel'"
ok "missing channel: exit 1, \"missing 'channel'\""

spec emptysources.yaml <<'EOF'
channel: demo
sources: []
EOF
export_fails emptysources.yaml "$T/emptysources.yaml:" "missing or empty 'sources'"
spec nosources.yaml <<'EOF'
channel: demo
expires: 7d
EOF
export_fails nosources.yaml "$T/nosources.yaml:" "missing or empty 'sources'"
spec mapsources.yaml <<'EOF'
channel: demo
sources:
  oci-layout: layout
EOF
export_fails mapsources.yaml "$T/mapsources.yaml:3: 'sources' must be a list"
ok "empty, missing or non-list sources: exit 1, named"

# (The line number reported for a bad channel is that of the document,
# not of the channel key -- reported as a rough edge; only the text is
# checked.)
for ch in ../x 'a/b' .hidden 'sp ace' "$(printf 'x%.0s' $(seq 65))"; do
	printf 'channel: "%s"\nsources:\n  - oci-layout: layout\n' "$ch" >"$T/badchannel.yaml"
	export_fails badchannel.yaml "$T/badchannel.yaml:" "channel names use 1-64 of A-Z a-z 0-9 . _ -: '$ch'"
done
[ ! -e "$T/x" ] && [ ! -e "$T/ferry-..-000001.tar" ] || fail "a bad channel name escaped the out dir"
ok "bad channel names (../x, a/b, .hidden, a space, 65 chars): exit 1, named"

printf 'channel: ""\nsources:\n  - oci-layout: layout\n' >"$T/emptychannel.yaml"
export_fails emptychannel.yaml "$T/emptychannel.yaml:1: expected a non-empty value for 'channel'"
ok "empty channel: exit 1, named with its line"

for e in soon 7 7y -1d 0s 1.5d; do
	printf 'channel: demo\nexpires: "%s"\nsources:\n  - oci-layout: layout\n' "$e" >"$T/badexp.yaml"
	export_fails badexp.yaml "$T/badexp.yaml:2: invalid duration (want e.g. 30d, 12h): '$e'"
done
for e in 2026-02-31T00:00:00Z 2026-12-01T00:00:00 2026-12-01T25:00:00Z tomorrowT; do
	printf 'channel: demo\nexpires: %s\nsources:\n  - oci-layout: layout\n' "$e" >"$T/badtime.yaml"
	export_fails badtime.yaml "$T/badtime.yaml:2: invalid time (want YYYY-MM-DDTHH:MM:SSZ): '$e'"
done
printf 'channel: demo\nexpires: 2001-01-01T00:00:00Z\nsources:\n  - oci-layout: layout\n' >"$T/pastexp.yaml"
export_fails pastexp.yaml "$T/pastexp.yaml: 'expires' is in the past"
# An empty spec, and a reference no reader would accept, fail at export.
: >"$T/empty.yaml"
export_fails empty.yaml "$T/empty.yaml: the spec is empty"
printf 'channel: demo\nsources:\n  - oci-layout: layout\n    name: "my app"\n' >"$T/spacename.yaml"
export_fails spacename.yaml "reference 'my app:v1' is not valid"
ok "an empty spec and a reference with a space are refused at export (exit 1)"

ok "bad expires (durations, impossible/zone-less times, a past time): exit 1, named with line"

spec unknownkind.yaml <<'EOF'
channel: demo
sources:
  - oci-layout: layout
  - docker-archive: app.tar
EOF
export_fails unknownkind.yaml "$T/unknownkind.yaml:4: unknown source kind 'docker-archive' (one of 'oci-layout', 'image', 'images', 'chart', 'git', 'file')"
spec nokind.yaml <<'EOF'
channel: demo
sources:
  - name: library/app
EOF
export_fails nokind.yaml "$T/nokind.yaml:3: source has no kind (one of 'oci-layout', 'image', 'images', 'chart', 'git', 'file')"
spec twokinds.yaml <<'EOF'
channel: demo
sources:
  - oci-layout: layout
    oci-layout: layout
EOF
export_fails twokinds.yaml "$T/twokinds.yaml:4: duplicate key 'oci-layout'"
spec emptyname.yaml <<'EOF'
channel: demo
sources:
  - oci-layout: layout
    name: ""
EOF
export_fails emptyname.yaml "$T/emptyname.yaml:4: expected a non-empty value for 'name'"
ok "source with unknown kind, no kind, two kinds, empty name: exit 1, named with line"

spec yaml.yaml <<'EOF'
channel: demo
sources: [ oops
EOF
export_fails yaml.yaml "$T/yaml.yaml:"
spec notmap.yaml <<'EOF'
- channel: demo
EOF
export_fails notmap.yaml "$T/notmap.yaml:1: the spec must be a mapping"
ok "malformed YAML and a non-mapping document: exit 1, named"

export_fails no-such-spec.yaml "cannot open '$T/no-such-spec.yaml'"
ok "a missing spec file: exit 1, named"

# ---- sources that are not (good) layouts ---------------------------------------
spec nolayout.yaml <<'EOF'
channel: demo
sources:
  - oci-layout: no/such/layout
EOF
export_fails nolayout.yaml "'$T/no/such/layout' is not an OCI image layout (no oci-layout file)"
mkdir "$T/empty-dir"
printf 'channel: demo\nsources:\n  - oci-layout: empty-dir\n' >"$T/emptydir.yaml"
export_fails emptydir.yaml "'$T/empty-dir' is not an OCI image layout"
ok "a layout path that does not exist / is not a layout: exit 1, naming the path (relative to the spec)"

spec twice.yaml <<'EOF'
channel: demo
sources:
  - oci-layout: layout
    name: library/app
  - oci-layout: layout
    name: library/app
EOF
export_fails twice.yaml "reference 'library/app:chart' comes from two sources"
ok "the same reference from two sources: exit 1, named"

# broken_layout NAME: a fresh copy of the good layout at $T/NAME
broken_layout() { rm -rf "${T:?}/$1"; cp -a "$T/layout" "$T/$1"; chmod -R u+w "$T/$1"; }
layout_spec() { printf 'channel: demo\nsources:\n  - oci-layout: %s\n    name: library/app\n' "$1" >"$T/$1.yaml"; }

# A corrupted layer blob (same size): caught while writing; nothing is left.
broken_layout badblob
v1=$(tag_hex "$T/badblob" v1)
layer=$(jq -r '.layers[-1].digest' "$T/badblob/blobs/sha256/$v1" | cut -d: -f2)
f=$T/badblob/blobs/sha256/$layer
flip_byte "$f" $(($(stat -c %s "$f") / 2))
layout_spec badblob
export_fails badblob.yaml "source of 'blobs/sha256/$layer' does not match its digest"
ok "a layer blob with a flipped byte: exit 1 naming blobs/sha256/${layer:0:12}..., no file in --out"

# The same with a split export: the damaged blob is found before any
# volume is kept, and neither volumes nor .minisig files remain.
export_fails_split() {
	expect_exit 1 "$FERRY" export -q --spec "$T/$1" --key "$T/key.key" --out "$T/bundles" \
		--state "$STATE" --max-volume-size 256K
	expect_err "$2"
	[ -z "$(ls -A "$T/bundles")" ] || fail "failed split export left files: $(ls -A "$T/bundles")"
}
export_fails_split badblob.yaml "source of 'blobs/sha256/$layer' does not match its digest"
broken_layout badsplit
busy=$(jq -r '.layers[0].digest' "$T/badsplit/blobs/sha256/$v1" | cut -d: -f2)   # ~1 MiB, split at 256K
f=$T/badsplit/blobs/sha256/$busy
flip_byte "$f" $(($(stat -c %s "$f") - 100))
layout_spec badsplit
export_fails_split badsplit.yaml "source of 'blobs/sha256/$busy' does not match its digest"
ok "corrupt blobs in a split export (whole and split members): exit 1, no volume or .minisig left"

# A modified manifest of the same size: its digest no longer matches.
broken_layout badmanifest
m=$T/badmanifest/blobs/sha256/$v1
sed -i 's/"schemaVersion":2/"schemaVersion":3/' "$m"
[ "$(sha256sum <"$m" | cut -d' ' -f1)" != "$v1" ] || fail "manifest edit changed nothing"
layout_spec badmanifest
export_fails badmanifest.yaml "manifest sha256:$v1 does not match its digest"
ok "a manifest modified in place: exit 1, 'manifest sha256:${v1:0:12}... does not match its digest'"

# A manifest that grew: its descriptor's size is wrong.
broken_layout grownmanifest
m=$T/grownmanifest/blobs/sha256/$v1
printf ' ' >>"$m"
layout_spec grownmanifest
want=$(jq -r --arg d "sha256:$v1" '.manifests[] | select(.digest == $d) | .size' "$T/layout/index.json")
export_fails grownmanifest.yaml "blob sha256:$v1 is $((want + 1)) bytes, its descriptor says $want"
ok "a manifest with a changed size: exit 1, naming both sizes"

# A missing blob (the chart's config).
broken_layout missing
chart=$(tag_hex "$T/missing" chart)
cfg=$(jq -r '.config.digest' "$T/missing/blobs/sha256/$chart")
rm "$T/missing/blobs/sha256/${cfg#sha256:}"
layout_spec missing
export_fails missing.yaml "lacks blob $cfg"
ok "a missing blob: exit 1, 'layout ... lacks blob ${cfg:0:19}...'"

# A child manifest of the multi index that is missing.
broken_layout missingchild
multi=$(tag_hex "$T/missingchild" multi)
arm=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$T/missingchild/blobs/sha256/$multi")
rm "$T/missingchild/blobs/sha256/${arm#sha256:}"
layout_spec missingchild
export_fails missingchild.yaml "lacks blob $arm"
ok "a missing platform manifest under the multi index: exit 1, named"

# After all those failures the state has used no number: sequence 1.
printf 'channel: demo\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/good.yaml"
expect_exit 0 "$FERRY" export -q --json --spec "$T/good.yaml" --key "$T/key.key" --out "$T/bundles" --state "$STATE"
[ "$(jq -r .sequence "$T/out")" = 1 ] || fail "first good export got sequence $(jq -r .sequence "$T/out")"
[ -f "$T/bundles/ferry-demo-000001.tar" ] || fail "no ferry-demo-000001.tar"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/key.pub" "$T/bundles/ferry-demo-000001.tar"
ok "the next good export on the same state is sequence 1 and verifies"

# The default expiry is 30 days.
"$FERRY" inspect --json "$T/bundles/ferry-demo-000001.tar" >"$T/insp.json"
c=$(date -u -d "$(jq -r .created "$T/insp.json")" +%s) e=$(date -u -d "$(jq -r .expires "$T/insp.json")" +%s)
[ $((e - c)) = $((30 * 86400)) ] || fail "default expiry is $((e - c)) s, want 30 days"
ok "without 'expires' a bundle expires after 30 days"

# ---- usage errors: exit 64 ---------------------------------------------------------
G=(--spec "$T/good.yaml" --key "$T/key.key" --out "$T/bundles" --state "$STATE")
expect_exit 64 "$FERRY" export
expect_err "export needs --spec, --key and --out"
expect_exit 64 "$FERRY" export --spec "$T/good.yaml" --key "$T/key.key"
expect_err "export needs --spec, --key and --out"
expect_exit 64 "$FERRY" export --spec "$T/good.yaml" --out "$T/bundles"
expect_exit 64 "$FERRY" export --key "$T/key.key" --out "$T/bundles"
expect_exit 64 "$FERRY" export "${G[@]}" extra-argument
expect_exit 64 "$FERRY" export "${G[@]}" --bogus
expect_err "bad option"
expect_exit 64 "$FERRY" export "${G[@]}" --max-volume-size 0
expect_err "invalid --max-volume-size '0'"
expect_exit 64 "$FERRY" export --spec
expect_err "usage: ferry export"
[ "$(ls "$T/bundles")" = "$(printf 'ferry-demo-000001.tar\nferry-demo-000001.tar.minisig')" ] ||
	fail "a usage error wrote files: $(ls "$T/bundles")"
ok "export usage errors (missing options, extra argument, unknown option, bad size) exit 64"

expect_exit 1 "$FERRY" export --spec "$T/good.yaml" --key "$T/no-such.key" --out "$T/bundles" --state "$STATE"
expect_err "cannot open '$T/no-such.key'"
expect_exit 1 "$FERRY" export --spec "$T/good.yaml" --key "$T/key.key" --key "$T/key.key" --out "$T/bundles" --state "$STATE"
expect_err "given twice"
ok "a missing key file or the same key twice: exit 1, named"

expect_exit 0 "$FERRY" export --help
expect_out "usage: ferry export"
ok "export --help exits 0"
