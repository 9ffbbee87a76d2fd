#!/usr/bin/env bash
# Seeding git servers: git http-backend under lighttpd and git daemon, both
# accepting pushes on 127.0.0.1. Every ref matches the store and fsck
# --strict passes on the target; a rewritten branch is force-pushed where
# the policy allows and reported where it refuses; a moved tag is refused
# by default; deleted refs are deleted only with --prune; commits made on
# the target itself are never overwritten by default.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/git-server.sh"
need git jq
git_test_env

W=$T/src
git init -q -b main "$W"
mkdir -p "$W/app"
printf 'replicas: 2\n' >"$W/app/values.yaml"
git -C "$W" add -A && git -C "$W" commit -qm one
git -C "$W" tag -a v1 -m "release 1"
git -C "$W" checkout -qb feature && git -C "$W" commit -q --allow-empty -m feature &&
	git -C "$W" checkout -q main
printf 'replicas: 3\n' >"$W/app/values.yaml"
git -C "$W" commit -qam two

git_seed_store "$W"
ship() { git_seed_ship "$@"; }
ship --no-seed >/dev/null || fail "import 1 failed"

mkdir -p "$T/http/platform" "$T/daemon/platform"
git init -q --bare -b main "$T/http/platform/deploy.git"
git init -q --bare -b main "$T/daemon/platform/deploy.git"
GIT_SERVER_PUSH=1 git_http_start "$T/http"
GIT_SERVER_PUSH=1 git_daemon_start "$T/daemon"
"$FERRY" target add web --store "$T/store" --kind git --url "$GIT_HTTP_URL" --prune >/dev/null
"$FERRY" target add daemon --store "$T/store" --kind git --url "$GIT_DAEMON_URL" \
	--force-branches never >/dev/null

store_refs() { git --git-dir "$T/store/git/platform/deploy.git" for-each-ref --format='%(objectname) %(refname)' | sort; }
target_refs() { git --git-dir "$1" for-each-ref --format='%(objectname) %(refname)' | sort; }
same_refs() { [ "$(store_refs)" = "$(target_refs "$1")" ] || { diff <(store_refs) <(target_refs "$1") >&2; fail "$2: refs differ from the store"; }; }
fsck() { git --git-dir "$1" fsck --strict --no-progress >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out" >&2; fail "fsck --strict failed on $1"; }; }

"$FERRY" seed --store "$T/store" --json >"$T/s1.json" || { cat "$T/s1.json"; fail "first seed failed"; }
same_refs "$T/http/platform/deploy.git" http
same_refs "$T/daemon/platform/deploy.git" daemon
fsck "$T/http/platform/deploy.git"
fsck "$T/daemon/platform/deploy.git"
[ "$(jq '.targets[] | select(.target == "web") | .refsPushed' "$T/s1.json")" = 3 ] || fail "web: expected 3 refs pushed"
ok "smart HTTP and git:// pushes: refs match the store, fsck --strict clean"

"$FERRY" seed --store "$T/store" --json >"$T/s2.json" || fail "second seed failed"
[ "$(jq '[.targets[] | .refsPushed + .refsForced] | add' "$T/s2.json")" = 0 ] || fail "second seed pushed refs"
[ "$(jq '[.targets[] | .refsUnchanged] | add' "$T/s2.json")" = 6 ] || fail "second seed did not see all refs unchanged"
ok "a second seed pushes nothing"

# Rewrite main's history: the bundle marks it forced; import seeds at once.
git -C "$W" reset -q --hard HEAD~1
printf 'replicas: 4\n' >"$W/app/values.yaml"
git -C "$W" commit -qam "two, rewritten"
rc=0
ship >"$T/i2.out" 2>"$T/i2.err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/i2.out" "$T/i2.err"; fail "import with a refused ref exited $rc, expected 1"; }
grep -q "imported, but seeding failed" "$T/i2.err" || fail "import did not say seeding failed"
grep -q "refused: platform/deploy refs/heads/main: history was rewritten" "$T/i2.out" ||
	{ cat "$T/i2.out"; fail "the refusal is not reported per ref"; }
same_refs "$T/http/platform/deploy.git" "http after rewrite"
[ "$(git --git-dir "$T/http/platform/deploy.git" rev-parse main)" = "$(git -C "$W" rev-parse main)" ] ||
	fail "http: main was not force-pushed"
[ "$(git --git-dir "$T/daemon/platform/deploy.git" rev-parse main)" != "$(git -C "$W" rev-parse main)" ] ||
	fail "daemon: main was force-pushed against the policy"
fsck "$T/http/platform/deploy.git"
fsck "$T/daemon/platform/deploy.git"
grep -q "1 forced" "$T/i2.out" || { cat "$T/i2.out"; fail "no forced push counted"; }
ok "import seeds: rewritten main force-pushed over HTTP, refused (and reported) on the daemon"

# A moved tag is refused by default; a deleted branch goes only with --prune.
git -C "$W" tag -f -a v1 -m "release 1, again" >/dev/null
git -C "$W" branch -qD feature
"$FERRY" target add daemon --replace --store "$T/store" --kind git --url "$GIT_DAEMON_URL" >/dev/null
rc=0
ship >"$T/i3.out" 2>"$T/i3.err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/i3.out" "$T/i3.err"; fail "import 3 exited $rc"; }
grep -q "refs/tags/v1: the tag moved" "$T/i3.out" || { cat "$T/i3.out"; fail "moved tag not reported"; }
git --git-dir "$T/http/platform/deploy.git" rev-parse -q --verify refs/heads/feature >/dev/null &&
	fail "http: feature was not deleted (--prune)"
git --git-dir "$T/daemon/platform/deploy.git" rev-parse -q --verify refs/heads/feature >/dev/null ||
	fail "daemon: feature was deleted without --prune"
[ "$(git --git-dir "$T/daemon/platform/deploy.git" rev-parse main)" = "$(git -C "$W" rev-parse main)" ] ||
	fail "daemon: main not force-pushed once the policy allows it"
fsck "$T/http/platform/deploy.git"
fsck "$T/daemon/platform/deploy.git"
ok "moved tag refused on both; deleted branch pruned only where asked; default policy force-pushes"

# Someone commits on the target: ferry does not overwrite it.
git clone -q "$GIT_HTTP_URL/platform/deploy.git" "$T/other"
git -C "$T/other" commit -q --allow-empty -m "made on the server"
git -C "$T/other" push -q origin main
printf 'replicas: 5\n' >"$W/app/values.yaml"
git -C "$W" commit -qam three
rc=0
ship >"$T/i4.out" 2>"$T/i4.err" || rc=$?
[ "$rc" = 1 ] || fail "import 4 exited $rc"
grep -q "refs/heads/main: the target has commits the store does not know" "$T/i4.out" ||
	{ cat "$T/i4.out"; fail "divergence not reported"; }
[ "$(git --git-dir "$T/http/platform/deploy.git" log -1 --format=%s main)" = "made on the server" ] ||
	fail "the server's commit was overwritten"
ok "commits made on the target are not overwritten by default"

# import --json carries the seed's result beside the bundles.
printf 'replicas: 6\n' >"$W/app/values.yaml"
git -C "$W" commit -qam four
rc=0
ship --json >"$T/i5.json" 2>"$T/i5.err" || rc=$?
[ "$rc" = 1 ] || fail "import 5 exited $rc"
jq -e '.ok and .bundles[0].outcome == "imported" and .bundles[0].sequence == 5' "$T/i5.json" >/dev/null ||
	{ cat "$T/i5.json"; fail "import --json: bundle summary"; }
jq -e '.seed.ok == false and (.seed.targets | length) == 2 and (.seed.error | length) > 0' "$T/i5.json" >/dev/null ||
	{ cat "$T/i5.json"; fail "import --json: seed result missing or wrong"; }
jq -e '[.seed.targets[].refused[]] | any(test("refs/heads/main: the target has commits the store does not know"))' \
	"$T/i5.json" >/dev/null || { cat "$T/i5.json"; fail "import --json: refusal not listed"; }
ok "import --json reports the seed per target, refusals included"
