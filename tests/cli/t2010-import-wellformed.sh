#!/usr/bin/env bash
# ferry import publishes only complete, well-formed content, whoever signed
# it. Each bundle here is signed by the trusted key but written by
# forge-bundle, without the exporter's checks, as an insider on the
# connected side could; each must be refused with exit 2, naming the
# reference and the reason, and leave the store exactly as it was:
#   a manifest whose layer is neither in the bundle nor in the store
#   a layer descriptor with a false size
#   a tag bound to a layer instead of a manifest or an index
#   references outside the OCI name and tag grammar
#   an index chain 20 deep, a 5 MiB index (the walk's limits: 8, 4 MiB)
#   git trees the exporter would refuse: an entry named "..", one named
#   ".git", a symbolic link named .gitmodules, a .gitmodules whose url is an
#   option ("-u...")
# A manifest whose layers only the store holds (from an earlier import)
# imports.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq sqlite3 sha256sum git
. "$SRC/tests/lib/forge.sh"

MT_INDEX=application/vnd.oci.image.index.v1+json
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER=application/vnd.oci.image.layer.v1.tar+gzip

"$FERRY" keygen -o "$T/k" >/dev/null
S=$T/store
expect_exit 0 "$FERRY" trust init --store "$S" --key "$T/k.pub"

# blob DIR FILE: put FILE into layout DIR; prints "DIGEST SIZE".
blob() {
	local h
	h=$(sha256sum "$2" | cut -d' ' -f1)
	cp "$2" "$1/blobs/sha256/$h"
	echo "sha256:$h $(stat -c %s "$2")"
}
# tag DIR REF DIGEST MEDIATYPE SIZE: add an index.json entry naming REF.
tag() {
	jq -c --arg r "$2" --arg d "$3" --arg m "$4" --argjson s "$5" \
		'.manifests += [{mediaType: $m, digest: $d, size: $s,
		  annotations: {"org.opencontainers.image.ref.name": $r}}]' "$1/index.json" >"$1/index.tmp"
	mv "$1/index.tmp" "$1/index.json"
}
# image DIR [LAYER_SIZE_DELTA]: a config, a layer and a manifest over them in
# layout DIR; sets MD MS (the manifest), LD (the layer).
image() {
	local cd cs ls
	echo "{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":$RANDOM}" >"$T/config"
	head -c 3000 /dev/urandom >"$T/layer"
	read -r cd cs <<<"$(blob "$1" "$T/config")"
	read -r LD ls <<<"$(blob "$1" "$T/layer")"
	jq -cn --arg cd "$cd" --argjson cs "$cs" --arg ld "$LD" --argjson ls "$((ls + ${2:-0}))" \
		--arg mc "$MT_CONFIG" --arg ml "$MT_LAYER" --arg mm "$MT_MANIFEST" \
		'{schemaVersion: 2, mediaType: $mm, config: {mediaType: $mc, digest: $cd, size: $cs},
		  layers: [{mediaType: $ml, digest: $ld, size: $ls}]}' | tr -d '\n' >"$T/manifest"
	read -r MD MS <<<"$(blob "$1" "$T/manifest")"
}
# forge DIR CHANNEL [ARG...]: a signed bundle of layout DIR (ARGs to forge-bundle); prints its path.
forge() {
	mkdir -p "$T/forged"
	"$FORGE" "$T/k.key" "$T/forged" "$2" 1 "$1" "${@:3}" || fail "forge-bundle $1"
}
# state: the store's content (every file but the database's and the lock),
# and its tags, blobs and channels.
state() {
	{
		(cd "$S" && find . \( -path ./staging -o -name 'ferry.db*' -o -path ./lock \) -prune \
			-o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
		sqlite3 "$S/ferry.db" 'SELECT * FROM tags; SELECT * FROM blobs; SELECT * FROM channels'
	} | sha256sum
}
# refused BUNDLE TEXT...: the import exits 2 saying every TEXT; the store is unchanged.
refused() {
	local b=$1 before
	shift
	before=$(state)
	expect_exit 2 "$FERRY" import -q --store "$S" "$b"
	while [ $# -gt 0 ]; do expect_err "$1"; shift; done
	[ "$(state)" = "$before" ] || fail "a refused import changed the store"
}
n=0
case_dir() { n=$((n + 1)); L=$T/l$n; layout "$L"; }

# ---- a layer neither in the bundle nor in the store --------------------------------------
case_dir
image "$L"
rm "$L/blobs/sha256/${LD#sha256:}"
tag "$L" library/app:missing "$MD" "$MT_MANIFEST" "$MS"
refused "$(forge "$L" c$n)" "'library/app:missing'" "layer $LD is neither in the bundle nor in the store"
ok "a manifest whose layer is held nowhere is refused, naming the reference and the layer"

# ---- a layer descriptor with a false size -------------------------------------------------
case_dir
image "$L" 7
tag "$L" library/app:size "$MD" "$MT_MANIFEST" "$MS"
refused "$(forge "$L" c$n)" "'library/app:size'" "layer $LD is 3000 bytes, its descriptor says 3007"
ok "a layer descriptor with a false size is refused"

# ---- a tag bound to a layer -------------------------------------------------------------------
case_dir
image "$L"
tag "$L" library/app:layer "$LD" "$MT_LAYER" 3000
refused "$(forge "$L" c$n)" "'library/app:layer' is bound to a '$MT_LAYER', not to a manifest or an index"
ok "a tag bound to a layer is refused"

# ---- references outside the grammar ---------------------------------------------------------------
for ref in Library/App:v1 app app:v1?x=1 ../../etc/x:v1 library/../../v2/other/app:v1; do
	case_dir
	image "$L"
	tag "$L" "$ref" "$MD" "$MT_MANIFEST" "$MS"
	refused "$(forge "$L" c$n)" "reference '$ref'"
done
ok "references outside the OCI name and tag grammar are refused, each named"

# ---- an index chain 20 deep ----------------------------------------------------------------------------
case_dir
image "$L"
d=$MD s=$MS m=$MT_MANIFEST
for i in $(seq 1 20); do
	jq -cn --arg d "$d" --argjson s "$s" --arg m "$m" --arg mi "$MT_INDEX" \
		'{schemaVersion: 2, mediaType: $mi, manifests: [{mediaType: $m, digest: $d, size: $s}]}' |
		tr -d '\n' >"$T/index"
	read -r d s <<<"$(blob "$L" "$T/index")"
	m=$MT_INDEX
done
tag "$L" library/app:deep "$d" "$MT_INDEX" "$s"
refused "$(forge "$L" c$n)" "'library/app:deep'" "nests deeper than 8 levels"
ok "an index chain 20 deep is refused"

# ---- a 5 MiB index ---------------------------------------------------------------------------------------
case_dir
image "$L"
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' a >"$T/pad"
jq -cn --arg d "$MD" --argjson s "$MS" --arg m "$MT_MANIFEST" --arg mi "$MT_INDEX" --rawfile pad "$T/pad" \
	'{schemaVersion: 2, mediaType: $mi, manifests: [{mediaType: $m, digest: $d, size: $s}],
	  annotations: {pad: $pad}}' | tr -d '\n' >"$T/index"
read -r d s <<<"$(blob "$L" "$T/index")"
tag "$L" library/app:big "$d" "$MT_INDEX" "$s"
refused "$(forge "$L" c$n)" "'library/app:big'" "$d is larger than"
ok "a 5 MiB index is refused"

# ---- content the store already holds completes a bundle ---------------------------------------------------
case_dir
image "$L"
tag "$L" library/app:v1 "$MD" "$MT_MANIFEST" "$MS"
expect_exit 0 "$FERRY" import -q --store "$S" "$(forge "$L" c$n)"
jq -cn --arg d "$MD" --argjson s "$MS" --arg m "$MT_MANIFEST" --arg mi "$MT_INDEX" \
	'{schemaVersion: 2, mediaType: $mi, manifests: [{mediaType: $m, digest: $d, size: $s}]}' |
	tr -d '\n' >"$T/index"
case_dir
read -r d s <<<"$(blob "$L" "$T/index")"
tag "$L" library/app:multi "$d" "$MT_INDEX" "$s"
expect_exit 0 "$FERRY" import -q --store "$S" "$(forge "$L" c$n)"
[ "$(sqlite3 "$S/ferry.db" "SELECT digest FROM tags WHERE reference = 'library/app:multi'")" = "$d" ] ||
	fail "library/app:multi was not published"
ok "an index whose manifest, config and layer only the store holds imports"

# ---- git trees the exporter would refuse ------------------------------------------------------------------
# hostile_git NAME ENTRY MODE CONTENT: a git bundle of one commit whose tree
# holds ENTRY (mode MODE) with CONTENT, written with git's plumbing.
hostile_git() {
	local g=$T/git-$1 blob tree commit
	git init -q --bare "$g"
	blob=$(printf '%s' "$4" | git --git-dir="$g" hash-object -w --stdin)
	tree=$({ printf '%s %s\0' "$3" "$2"; printf "$(echo "$blob" | sed 's/../\\x&/g')"; } |
		git --git-dir="$g" hash-object -t tree --literally -w --stdin)
	commit=$(git --git-dir="$g" -c user.name=t -c user.email=t@t commit-tree "$tree" -m evil)
	git --git-dir="$g" update-ref refs/heads/main "$commit"
	git --git-dir="$g" bundle create -q "$T/$1.bundle" refs/heads/main 2>/dev/null ||
		fail "git bundle create $1"
	echo "$tree"
}
for c in "dotdot|..|100644|x" "dotgit|.git|100644|x" "symlink|.gitmodules|120000|target" \
	"modules|.gitmodules|100644|[submodule \"s\"]
	path = s
	url = -upload-pack=touch /tmp/pwned"; do
	IFS='|' read -r name entry mode content <<<"$c"
	[ "$name" = modules ] && content=$(printf '[submodule "s"]\n\tpath = s\n\turl = --upload-pack=touch /tmp/pwned\n')
	tree=$(hostile_git "$name" "$entry" "$mode" "$content")
	case_dir
	read -r gd gs <<<"$(blob "$L" "$T/$name.bundle")"
	refused "$(forge "$L" c$n "git:org/$name=$L/blobs/sha256/${gd#sha256:}")" "repository 'org/$name'" "refused"
	[ ! -e "$S/git/org/$name.git" ] || fail "the repository org/$name was created"
done
ok "git trees with '..', '.git', a symlinked .gitmodules or a hostile .gitmodules are refused"
