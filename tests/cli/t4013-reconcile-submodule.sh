#!/usr/bin/env bash
# Submodules are rendered: a stack whose path lies inside a submodule
# deploys from the store's repository that export made of the submodule
# (refs/ferry/pinned/<commit>), at the commit the superproject pins; a
# submodule the store does not hold (left out with skip-submodules) fails
# the render naming it, and is never silently omitted; an include section
# in .gitmodules is refused, as git does not follow it there.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq
. "$SRC/tests/lib/deploy-fixture.sh"

deploy_git_init
# the submodule: a repository of its own holding the manifests
git init -q -b main "$T/libwork"
deploy_manifest "$T/libwork/app/deployment.yaml"
git -C "$T/libwork" add -A && git -C "$T/libwork" commit -qm lib
git init -q --bare -b main "$T/lib.git"
git -C "$T/libwork" push -q "$T/lib.git" main
LIB1=$(git -C "$T/libwork" rev-parse HEAD)
# a later commit of it that the superproject does not pin
sed -i 's/name: app}/name: later}/' "$T/libwork/app/deployment.yaml"
git -C "$T/libwork" commit -qam later && git -C "$T/libwork" push -q "$T/lib.git" main

pin() {   # pin PATH URL COMMIT: record a submodule in the superproject's next commit
	git -C "$T/work" config -f .gitmodules "submodule.$1.path" "$1"
	git -C "$T/work" config -f .gitmodules "submodule.$1.url" "$2"
	git -C "$T/work" add .gitmodules
	git -C "$T/work" update-index --add --cacheinfo "160000,$3,$1"
	git -C "$T/work" commit -qm "pin $1 at $3"
	git -C "$T/work" push -q origin main 2>/dev/null
}
echo superproject >"$T/work/README"
git -C "$T/work" add README && git -C "$T/work" commit -qm one
pin vendor/lib ../lib.git "$LIB1"

"$FERRY" keygen -o "$T/key" >/dev/null
printf 'channel: c\nsources:\n  - git: %s\n    skip-submodules: [vendor/gone]\n' "$T/deploy.git" >"$T/spec.yaml"
mkdir -p "$T/bundles"
publish() {
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache" >/dev/null 2>"$T/export.err" || { cat "$T/export.err" >&2; fail "export"; }
	"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)" || fail "import"
}
"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
publish
git --git-dir "$T/store/git/lib.git" rev-parse -q --verify "refs/ferry/pinned/$LIB1" >/dev/null ||
	fail "export did not carry the submodule as the store's repository 'lib'"

cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
stacks:
  - {name: vendored, source: {git: deploy, branch: main, path: vendor/lib/app}, runtime: kubernetes}
  - {name: whole, source: {git: deploy, branch: main}, runtime: kubernetes}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
expect_exit 0 "${R[@]}" --dry-run sync vendored
f=$(sed -n 's/.* rendered to \([^ ]*\) .*/\1/p' "$T/out")
[ -f "$f" ] || fail "no rendered file: $(cat "$T/out")"
grep -q '{name: app, ' "$f" && grep -q 'ferry.stack: vendored' "$f" ||
	fail "the stack inside the submodule was not rendered from the pinned commit: $(cat "$f")"
expect_exit 0 "${R[@]}" sync vendored
expect_out "vendored: applied"
ok "a stack whose path lies inside a submodule deploys from the store's pinned submodule repository"

# the superproject pins a submodule that export left out
git init -q -b main "$T/gonework"
echo gone >"$T/gonework/README" && git -C "$T/gonework" add -A && git -C "$T/gonework" commit -qm gone
GONE=$(git -C "$T/gonework" rev-parse HEAD)
pin vendor/gone ../gone.git "$GONE"
publish
grep -q "skipped submodule 'vendor/gone'" "$T/export.err" || fail "export did not skip vendor/gone: $(cat "$T/export.err")"
expect_exit 1 "${R[@]}" sync whole
expect_err "stack 'whole': submodule 'vendor/gone' (url '../gone.git') of repository 'deploy' pins commit $GONE, which no repository of the store holds"
jq -e 'last | .outcome == "failed" and (.error | contains("vendor/gone"))' <("${R[@]}" history whole --json) >/dev/null ||
	fail "the failure is not in the history"
ok "a submodule the store does not hold fails the render, naming it"

# git reads .gitmodules without following include sections: neither does
# the checkout (libgit2 would read any file of the host as config)
git -C "$T/work" config -f .gitmodules include.path /etc/passwd
git -C "$T/work" commit -qam include && git -C "$T/work" push -q origin main 2>/dev/null
publish
expect_exit 1 "${R[@]}" sync vendored
expect_err "stack 'vendored': .gitmodules of repository 'deploy' has an include section, which is not followed"
ok "an include section in .gitmodules is refused"
