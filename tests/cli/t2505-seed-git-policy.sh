#!/usr/bin/env bash
# The git seeding policy on tags and missing repositories: with the default
# --force-tags never, a lightweight tag moved forward (a fast-forward of
# the commit it names) is refused, reported per ref, the seed exits
# non-zero and the target's tag stays where it was; --force-tags always
# moves it. A target whose repository does not exist is reported as such,
# with what to do, not as a bare HTTP status.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/git-server.sh"
need git jq
git_test_env

git init -q -b main "$T/src"
W=$T/src
printf 'one\n' >"$W/f"
git -C "$W" add -A && git -C "$W" commit -qm one
git -C "$W" tag v1.0
git_seed_store "$W"
ship() { git_seed_ship --no-seed >/dev/null || fail "import failed"; }
ship

mkdir -p "$T/http/platform"
git init -q --bare -b main "$T/http/platform/deploy.git"
GIT_SERVER_PUSH=1 git_http_start "$T/http"
"$FERRY" target add web --store "$T/store" --kind git --url "$GIT_HTTP_URL" >/dev/null
expect_exit 0 "$FERRY" seed --store "$T/store" --target web
old=$(git --git-dir "$T/http/platform/deploy.git" rev-parse v1.0)
[ "$old" = "$(git -C "$W" rev-parse v1.0)" ] || fail "first seed: v1.0 not pushed"

printf 'two\n' >"$W/f"
git -C "$W" commit -qam two
git -C "$W" tag -f v1.0 >/dev/null   # moved forward: a fast-forward of the old commit
ship
expect_exit 1 "$FERRY" seed --store "$T/store" --target web --json
jq -e '.targets[0].ok == false' "$T/out" >/dev/null || { cat "$T/out"; fail "the seed says ok"; }
jq -e '[.targets[0].refused[]] | any(test("platform/deploy refs/tags/v1.0: the tag moved"))' "$T/out" >/dev/null ||
	{ cat "$T/out"; fail "the moved tag is not reported per ref"; }
[ "$(jq '.targets[0].refsRefused' "$T/out")" = 1 ] || { cat "$T/out"; fail "refsRefused"; }
[ "$(git --git-dir "$T/http/platform/deploy.git" rev-parse v1.0)" = "$old" ] || fail "the target's v1.0 moved"
[ "$(git --git-dir "$T/http/platform/deploy.git" rev-parse main)" = "$(git -C "$W" rev-parse main)" ] ||
	fail "main was not pushed beside the refused tag"
ok "a tag moved forward is refused by default, reported per ref, exit 1, the target's tag kept"

"$FERRY" target add web --replace --store "$T/store" --kind git --url "$GIT_HTTP_URL" --force-tags always >/dev/null
expect_exit 0 "$FERRY" seed --store "$T/store" --target web
[ "$(git --git-dir "$T/http/platform/deploy.git" rev-parse v1.0)" = "$(git -C "$W" rev-parse v1.0)" ] ||
	fail "--force-tags always did not move the tag"
ok "--force-tags always moves it"

"$FERRY" target add nowhere --store "$T/store" --kind git --url "$GIT_HTTP_URL/missing" >/dev/null
expect_exit 1 "$FERRY" seed --store "$T/store" --target nowhere
expect_err "does not exist on the target: create it on the git server first"
ok "a repository missing on the target is named, with what to do"
