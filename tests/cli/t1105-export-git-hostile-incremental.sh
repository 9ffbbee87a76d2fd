#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# The git safety checks run over the objects new to the channel only, and
# still catch hostile content that arrives in an incremental bundle:
#   export: after a clean first bundle, a commit on top whose tree holds a
#   '.git' directory deep in a subtree, or a .gitmodules with an option as
#   its url, or a history whose hostile commit sits under a clean tip, is
#   refused naming the object and the rule; nothing is written; the channel
#   goes on once the branch is clean again;
#   import: the same three in an incremental git bundle (thin pack on the
#   first bundle's tip) written and signed by forge-bundle, without the
#   exporter's checks, are refused with exit 2 and the store keeps its refs;
#   a clean forged incremental bundle imports.
need git python3 jq faketime
FORGE=${FERRY_FORGE_BUNDLE:-$FERRY_BUILD_DIR/tests/forge-bundle}
[ -x "$FORGE" ] || fail "forge-bundle not found at $FORGE"
. "$SRC/tests/lib/git-server.sh"
git_test_env
"$FERRY" keygen -o "$T/key" >/dev/null
mkdir -p "$T/bundles"

R=$T/app.git
W=$T/work
git init -q "$W"
mkdir -p "$W/deploy/base"
for i in $(seq 1 20); do
	printf 'replicas: %s\n' "$i" >"$W/deploy/base/values.yaml"
	git -C "$W" add -A && git -C "$W" commit -qm "change $i"
done
git init -q --bare "$R"
git -C "$W" push -q "$R" main
printf 'channel: inc\nsources:\n  - git: %s\n    name: org/app\n' "$R" >"$T/spec.yaml"
exp() {
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache"
}
expect_exit 0 exp
[ -f "$T/bundles/ferry-inc-000001.tar" ] || fail "no first bundle"
S=$T/store
expect_exit 0 "$FERRY" trust init --store "$S" --key "$T/key.pub"
expect_exit 0 "$FERRY" import -q --store "$S" "$T/bundles/ferry-inc-000001.tar"
base=$(git -C "$R" rev-parse main)
ok "a clean first bundle exports and imports"

tree() {   # tree "MODE NAME OID"...: a raw tree object, as given
	python3 - "$@" <<'PY' | git -C "$R" hash-object -w --literally -t tree --stdin
import sys
out = b""
for e in sys.argv[1:]:
    mode, rest = e.split(" ", 1)
    name, oid = rest.rsplit(" ", 1)
    out += mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
sys.stdout.buffer.write(out)
PY
}
# on_top ROOT-TREE [PARENT]: a commit of ROOT-TREE on PARENT (default: the base tip)
on_top() {
	printf 'tree %s\nparent %s\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nmore\n' \
		"$1" "${2:-$base}" | git -C "$R" hash-object -w --literally -t commit --stdin
}
# the base tip's tree with ENTRY-LINE added to deploy/base
with_entry() {
	local root deploy basedir vals
	root=$(git -C "$R" rev-parse "$base^{tree}")
	vals=$(git -C "$R" rev-parse "$base:deploy/base/values.yaml")
	basedir=$(tree "$1" "100644 values.yaml $vals")
	deploy=$(tree "40000 base $basedir")
	tree "40000 deploy $deploy"
}
B=$(printf 'x\n' | git -C "$R" hash-object -w --stdin)
refused_export() {   # refused_export WHAT TEXT...
	local what=$1
	shift
	expect_exit 1 exp
	expect_err "repository 'org/app'"
	for t in "$@"; do expect_err "$t"; done
	[ ! -e "$T/bundles/ferry-inc-000002.tar" ] || fail "$what: a bundle was written"
	ok "incremental export refuses $what: $(sed 's/^ferry export: //' "$T/err")"
}

# a .git directory two levels down, in the one new commit
evil=$(on_top "$(with_entry "40000 .git $(tree "100644 config $B")")")
git -C "$R" update-ref refs/heads/main "$evil"
refused_export "a '.git' tree in a new commit" "$(git -C "$R" rev-parse "$evil:deploy/base")" "name is '.git'"

# a .gitmodules whose url is an option
gm=$(printf '[submodule "x"]\n\tpath = x\n\turl = -u./payload\n' | git -C "$R" hash-object -w --stdin)
git -C "$R" update-ref refs/heads/main "$(on_top "$(tree "100644 .gitmodules $gm" \
	"40000 deploy $(git -C "$R" rev-parse "$base:deploy")")")"
refused_export "a hostile .gitmodules in a new commit" "submodule url starts with '-'"

# the hostile commit under a clean tip
clean_on_evil=$(on_top "$(git -C "$R" rev-parse "$base^{tree}")" "$evil")
git -C "$R" update-ref refs/heads/main "$clean_on_evil"
refused_export "a hostile commit under a clean tip" "name is '.git'"

# clean again: the channel goes on
git -C "$W" commit -q --allow-empty -m "clean" && git -C "$W" push -q -f "$R" main
expect_exit 0 exp
[ -f "$T/bundles/ferry-inc-000002.tar" ] || fail "no second bundle"
expect_exit 0 "$FERRY" import -q --store "$S" "$T/bundles/ferry-inc-000002.tar"
clean=$(git -C "$R" rev-parse main)
[ "$(git -C "$S/git/org/app.git" rev-parse main)" = "$clean" ] || fail "the store lacks the clean tip"
ok "once the branch is clean the next incremental bundle exports and imports"

# ---- import: forged incremental bundles ------------------------------------
L=$T/forged-layout
# forged SEQ TIP [GITBUNDLE]: a signed bundle with a thin git bundle of TIP
# on $clean, or with GITBUNDLE (made by hand)
forged() {
	local g=${3:-$T/inc-$1.bundle} h
	git -C "$R" update-ref refs/heads/main "$2"
	if [ -z "${3:-}" ]; then
		git -C "$R" bundle create -q "$g" main "^$clean" 2>/dev/null || fail "git bundle create"
		grep -aq "^-$clean" "$g" || fail "the git bundle has no prerequisite"
	fi
	rm -rf "$L"
	mkdir -p "$L/blobs/sha256"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
	printf '{"schemaVersion":2,"manifests":[]}' >"$L/index.json"
	h=$(sha256sum "$g" | cut -d' ' -f1)
	cp "$g" "$L/blobs/sha256/$h"
	mkdir -p "$T/forged"
	rm -f "$T/forged/ferry-inc-$(printf '%06d' "$1").tar"*   # a refused one of this number
	# dated after the exporter's bundles (forge-bundle dates its bundles a
	# minute back), or the import would see a rollback
	faketime_run '+2m' "$FORGE" "$T/key.key" "$T/forged" inc "$1" "$L" \
		"git:org/app=$L/blobs/sha256/$h" >/dev/null || fail "forge-bundle"
	echo "$T/forged/ferry-inc-$(printf '%06d' "$1").tar"
}
evil2=$(on_top "$(with_entry "40000 .git $(tree "100644 config $B")")" "$clean")
expect_exit 2 "$FERRY" import -q --store "$S" "$(forged 3 "$evil2")"
expect_err "repository 'org/app'"
expect_err "refused"
expect_err "name is '.git'"
[ "$(git -C "$S/git/org/app.git" rev-parse main)" = "$clean" ] || fail "the store's main moved"
ok "import refuses a '.git' tree arriving in a forged incremental bundle; the store keeps its refs"

gm2=$(on_top "$(tree "100644 .gitmodules $gm" "40000 deploy $(git -C "$R" rev-parse "$clean:deploy")")" "$clean")
expect_exit 2 "$FERRY" import -q --store "$S" "$(forged 3 "$gm2")"
expect_err "submodule url starts with '-'"
[ "$(git -C "$S/git/org/app.git" rev-parse main)" = "$clean" ] || fail "the store's main moved"
ok "import refuses a hostile .gitmodules arriving in a forged incremental bundle"

evil3=$(on_top "$(with_entry "40000 .GIT $(tree "100644 config $B")")" "$clean")
hidden=$(on_top "$(git -C "$R" rev-parse "$clean^{tree}")" "$evil3")
expect_exit 2 "$FERRY" import -q --store "$S" "$(forged 3 "$hidden")"
expect_err "name is '.git'"
expect_err "$(git -C "$R" rev-parse "$evil3:deploy/base")"
[ "$(git -C "$S/git/org/app.git" rev-parse main)" = "$clean" ] || fail "the store's main moved"
ok "import refuses a hostile commit under a clean tip in a forged incremental bundle (the tip's tree is the store's)"

# a tree whose id is named once as a file and once as a tree: it is
# checked as a tree
# (git's own rev-list refuses such a tree: the pack is made by hand)
inner=$(tree "100644 config $B")
X=$(tree "40000 .git $inner")
root=$(tree "100644 a $X" "40000 b $X" "40000 deploy $(git -C "$R" rev-parse "$clean:deploy")")
twice=$(on_top "$root" "$clean")
g3=$T/twice.bundle
{
	printf '# v2 git bundle\n-%s x\n%s refs/heads/main\n\n' "$clean" "$twice"
	printf '%s\n' "$twice" "$root" "$X" "$inner" "$B" | git -C "$R" pack-objects -q --stdout
} >"$g3"
expect_exit 2 "$FERRY" import -q --store "$S" "$(forged 3 "$twice" "$g3")"
expect_err "tree $X refused: name is '.git'"
ok "import refuses a hostile tree that a file entry names first"

fine=$(on_top "$(with_entry "100644 extra.yaml $B")" "$clean")
expect_exit 0 "$FERRY" import -q --store "$S" "$(forged 4 "$fine")"
[ "$(git -C "$S/git/org/app.git" rev-parse main)" = "$fine" ] || fail "the clean forged tip was not published"
ok "a clean forged incremental bundle (thin pack) imports"

# An object the store holds was not necessarily checked: a pack may carry a
# commit nothing points at. Bundle 5 carries hostile commit E unreferenced
# (the walk does not reach it, and it lands in the store); bundle 6 points
# main at a clean commit on E, in a pack holding only that commit and its
# tree. E is walked then, and refused.
E=$(on_top "$(with_entry "40000 .Git $(tree "100644 config $B")")" "$fine")
fine2=$(on_top "$(with_entry "100644 more.yaml $B")" "$fine")
g5=$T/carry.bundle
{
	printf '# v2 git bundle\n-%s x\n%s refs/heads/main\n\n' "$fine" "$fine2"
	{ git -C "$R" rev-list --objects "$fine2" "^$fine"; git -C "$R" rev-list --objects "$E" "^$fine"; } |
		git -C "$R" pack-objects -q --stdout
} >"$g5"
expect_exit 0 "$FERRY" import -q --store "$S" "$(forged 5 "$fine2" "$g5")"
git -C "$S/git/org/app.git" cat-file -e "$E" || fail "the store does not hold the unreferenced commit"
on_e=$(on_top "$(git -C "$R" rev-parse "$fine2^{tree}")" "$E")
g6=$T/on-e.bundle
{
	printf '# v2 git bundle\n-%s x\n%s refs/heads/main\n\n' "$fine2" "$on_e"
	printf '%s\n%s\n' "$on_e" "$(git -C "$R" rev-parse "$on_e^{tree}")" | git -C "$R" pack-objects -q --stdout
} >"$g6"
expect_exit 2 "$FERRY" import -q --store "$S" "$(forged 6 "$on_e" "$g6")"
expect_err "name is '.git'"
[ "$(git -C "$S/git/org/app.git" rev-parse main)" = "$fine2" ] || fail "the store's main moved"
ok "import refuses history the store holds but never checked (a commit a pack carried unreferenced)"
