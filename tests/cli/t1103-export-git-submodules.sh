#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Submodules, served by git http-backend under lighttpd on 127.0.0.1:
# a superproject pins "mid" (absolute URL), which pins "leaf" (relative URL
# ../leaf.git): two levels. Both are exported as repositories of their own
# with refs/ferry/pinned/<commit> at every pinned commit, and a stock git
# clone of each bundle blob holds those commits. A submodule that cannot be
# fetched stops the export with an error naming it, unless the spec lists
# it under skip-submodules; then it is reported and left out.
need git jq tar lighttpd python3
. "$SRC/tests/lib/git-server.sh"
git_test_env

R=$T/repos
mkdir -p "$R"
git_http_start "$R"
U=$GIT_HTTP_URL

new_repo() {   # new_repo NAME: a work tree $T/w/NAME with one commit, pushed to $R/NAME.git
	git init -q "$T/w/$1"
	echo "$1" >"$T/w/$1/README"
	git -C "$T/w/$1" add -A && git -C "$T/w/$1" commit -qm "$1 start"
	git init -q --bare "$R/$1.git"
	git -C "$T/w/$1" push -q "$R/$1.git" main
}
# pin NAME PATH URL COMMIT: record a submodule in NAME's next commit
pin() {
	git -C "$T/w/$1" config -f .gitmodules "submodule.$2.path" "$2"
	git -C "$T/w/$1" config -f .gitmodules "submodule.$2.url" "$3"
	git -C "$T/w/$1" add .gitmodules
	git -C "$T/w/$1" update-index --add --cacheinfo "160000,$4,$2"
	git -C "$T/w/$1" commit -qm "pin $2 at $4"
	git -C "$T/w/$1" push -q "$R/$1.git" main
}
new_repo leaf
leaf1=$(git -C "$T/w/leaf" rev-parse HEAD)
echo 2 >>"$T/w/leaf/README"
git -C "$T/w/leaf" commit -qam "leaf 2" && git -C "$T/w/leaf" push -q "$R/leaf.git" main
leaf2=$(git -C "$T/w/leaf" rev-parse HEAD)
new_repo mid
pin mid vendor/leaf ../leaf.git "$leaf1"
mid1=$(git -C "$T/w/mid" rev-parse HEAD)
pin mid vendor/leaf ../leaf.git "$leaf2"
mid2=$(git -C "$T/w/mid" rev-parse HEAD)
new_repo top
pin top libs/mid "$U/mid.git" "$mid1"
pin top libs/mid "$U/mid.git" "$mid2"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir -p "$T/bundles"
printf 'channel: sub\nsources:\n  - git: %s/top.git\n    name: org/top\n' "$U" >"$T/spec.yaml"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
B=$T/bundles/ferry-sub-000001.tar
"$FERRY" inspect --json "$B" >"$T/i.json"
[ "$(jq -r '[.repositories[].name] | join(" ")' "$T/i.json")" = "org/top git/mid git/leaf" ] ||
	fail "repositories: $(jq -c '[.repositories[].name]' "$T/i.json")"
pins() { jq -r --arg n "$1" '.repositories[] | select(.name == $n) | [.refs[] | "\(.name)=\(.commit)"] | join(" ")' "$T/i.json"; }
want_mid=$(printf '%s\n' "$mid1" "$mid2" | sort | sed 's|.*|refs/ferry/pinned/&=&|' | tr '\n' ' ' | sed 's/ $//')
want_leaf=$(printf '%s\n' "$leaf1" "$leaf2" | sort | sed 's|.*|refs/ferry/pinned/&=&|' | tr '\n' ' ' | sed 's/ $//')
[ "$(pins git/mid)" = "$want_mid" ] || fail "mid refs: $(pins git/mid), want $want_mid"
[ "$(pins git/leaf)" = "$want_leaf" ] || fail "leaf refs: $(pins git/leaf), want $want_leaf"
ok "two levels of submodules exported as repositories with refs/ferry/pinned/<commit> for every pinned commit"

mkdir "$T/x"
tar -xf "$B" -C "$T/x"
for name in org/top git/mid git/leaf; do
	f=$T/x/blobs/sha256/$(jq -r --arg n "$name" '.repositories[] | select(.name == $n) | .bundle | sub("sha256:"; "")' "$T/i.json")
	expect_exit 0 git clone -q --mirror "$f" "$T/c-${name#*/}"
	expect_exit 0 git -C "$T/c-${name#*/}" fsck --strict --no-progress
done
for c in "$mid1" "$mid2"; do
	[ "$(git -C "$T/c-mid" cat-file -t "$c")" = commit ] || fail "mid clone lacks pinned $c"
done
for c in "$leaf1" "$leaf2"; do
	[ "$(git -C "$T/c-leaf" cat-file -t "$c")" = commit ] || fail "leaf clone lacks pinned $c"
done
[ "$(git -C "$T/c-top" ls-tree HEAD libs/mid | awk '{print $3}')" = "$mid2" ] || fail "top's gitlink"
ok "stock git clones of each bundle hold every pinned commit; fsck --strict passes"

# incremental: a new pin in mid only sends what is new, keeps old pins
echo 3 >>"$T/w/leaf/README"
git -C "$T/w/leaf" commit -qam "leaf 3" && git -C "$T/w/leaf" push -q "$R/leaf.git" main
leaf3=$(git -C "$T/w/leaf" rev-parse HEAD)
pin mid vendor/leaf ../leaf.git "$leaf3"
mid3=$(git -C "$T/w/mid" rev-parse HEAD)
pin top libs/mid "$U/mid.git" "$mid3"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
"$FERRY" inspect --json "$T/bundles/ferry-sub-000002.tar" >"$T/i2.json"
[ "$(jq -r '.repositories[] | select(.name == "git/leaf") | .refs | length' "$T/i2.json")" = 3 ] ||
	fail "leaf pins after the second export: $(jq -c '.repositories[] | select(.name == "git/leaf") | .refs' "$T/i2.json")"
jq -r '.repositories[] | select(.name == "git/leaf") | .prerequisites[]' "$T/i2.json" | grep -qx "$leaf2" ||
	fail "leaf is not incremental"
mkdir "$T/x2"
tar -xf "$T/bundles/ferry-sub-000002.tar" -C "$T/x2"
f=$T/x2/blobs/sha256/$(jq -r '.repositories[] | select(.name == "git/leaf") | .bundle | sub("sha256:"; "")' "$T/i2.json")
expect_exit 0 git -C "$T/c-leaf" bundle verify "$f"
expect_exit 0 git -C "$T/c-leaf" fetch -q "$f" '+refs/*:refs/*'
[ "$(git -C "$T/c-leaf" cat-file -t "$leaf3")" = commit ] || fail "leaf3 not delivered"
ok "a new pin is sent incrementally; earlier pins stay in the refs"

# ---- an unreachable submodule -------------------------------------------------------
new_repo bad
pin bad vendor/gone "$U/gone.git" "$leaf1"
printf 'channel: bad\nsources:\n  - git: %s/bad.git\n' "$U" >"$T/bad.yaml"
expect_exit 1 "$FERRY" export -q --spec "$T/bad.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
expect_err "submodule 'vendor/gone' of 'git/bad' (url '$U/gone.git'): cannot fetch '$U/gone.git'"
expect_err "list it under 'skip-submodules'"
[ -z "$(ls "$T/bundles" | grep ferry-bad)" ] || fail "a failed export left files"
ok "an unreachable submodule stops the export, naming the submodule, its superproject and URL"

printf '    skip-submodules: [vendor/gone]\n' >>"$T/bad.yaml"
expect_exit 0 "$FERRY" export -q --spec "$T/bad.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
expect_err "skipped submodule 'vendor/gone' of 'git/bad'"
[ "$(jq -r '[.repositories[].name] | join(" ")' <("$FERRY" inspect --json "$T/bundles/ferry-bad-000001.tar"))" = git/bad ] ||
	fail "a skipped submodule is in the bundle"
ok "listed under skip-submodules: exported without it, and the skip is reported"

printf 'channel: nosub\nsources:\n  - git: %s/bad.git\n    submodules: false\n' "$U" >"$T/nosub.yaml"
expect_exit 0 "$FERRY" export -q --spec "$T/nosub.yaml" --key "$T/key.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
[ ! -s "$T/err" ] || fail "submodules: false still reports: $(cat "$T/err")"
ok "submodules: false exports the superproject alone"
