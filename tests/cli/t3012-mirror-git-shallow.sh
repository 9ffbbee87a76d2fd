#!/usr/bin/env bash
# git's shallow and partial clones against the mirror: `clone --depth 1`,
# `fetch --deepen`, a shallow clone's later fetch, `--shallow-since` and
# `--unshallow` work and leave repositories `git fsck` finds clean; a
# partial clone (`--filter`) is refused with a sentence git prints, as is a
# push; the URL without ".git" names the same repository.
. "$(dirname "$0")/../lib/test-lib.sh"
need git
. "$SRC/tests/lib/mirror.sh"

git init -q -b main "$T/src"
git -C "$T/src" config user.email t@example.com
git -C "$T/src" config user.name t
for i in 1 2 3 4 5 6; do
	mkdir -p "$T/src/d$i"
	printf 'value %s\n' "$i" >"$T/src/d$i/f"
	printf 'shared %s\n' "$i" >"$T/src/shared"
	git -C "$T/src" add -A
	GIT_COMMITTER_DATE="2024-01-0$i 12:00:00 +0000" GIT_AUTHOR_DATE="2024-01-0$i 12:00:00 +0000" \
		git -C "$T/src" commit -qm "c$i"
done
git -C "$T/src" tag -a v1 -m v1 HEAD~1
mirror_git_channel
mirror_git_export
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000001.tar

mirror_start "$T/store" || fail "mirror did not start"
at_exit mirror_stop
URL=$MIRROR_URL/git/platform/deploy.git
count() { git -C "$1" rev-list --count HEAD; }
clean() { git -C "$1" fsck --no-progress >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; fail "fsck of $1"; }; }

git clone -q --depth 1 "$URL" "$T/shallow" 2>"$T/err" || { cat "$T/err" >&2; fail "clone --depth 1"; }
clean "$T/shallow"
[ "$(count "$T/shallow")" = 1 ] || fail "clone --depth 1 has $(count "$T/shallow") commits"
[ "$(cat "$T/shallow/.git/shallow")" = "$(git -C "$T/src" rev-parse main)" ] || fail ".git/shallow"
[ "$(git -C "$T/shallow" rev-parse HEAD^{tree})" = "$(git -C "$T/src" rev-parse main^{tree})" ] || fail "tree"
ok "git clone --depth 1: one commit, its whole tree, fsck clean"

git -C "$T/shallow" fetch -q --deepen=2 2>"$T/err" || { cat "$T/err" >&2; fail "fetch --deepen=2"; }
clean "$T/shallow"
[ "$(count "$T/shallow")" = 3 ] || fail "after --deepen=2: $(count "$T/shallow") commits"
[ "$(cat "$T/shallow/.git/shallow")" = "$(git -C "$T/src" rev-parse main~2)" ] || fail "new boundary"
ok "git fetch --deepen=2: two more commits below the boundary, fsck clean"

printf 'value 7\n' >"$T/src/d1/f"
git -C "$T/src" commit -qam c7
mirror_git_export
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000002.tar
git -C "$T/shallow" fetch -q origin 2>"$T/err" || { cat "$T/err" >&2; fail "later fetch"; }
clean "$T/shallow"
[ "$(git -C "$T/shallow" rev-parse origin/main)" = "$(git -C "$T/src" rev-parse main)" ] || fail "fetch missed the new commit"
git -C "$T/shallow" merge -q --ff-only origin/main
[ "$(count "$T/shallow")" = 4 ] || fail "after the later fetch: $(count "$T/shallow") commits"
ok "a shallow clone's later git fetch brings the new commit, boundary kept, fsck clean"

# git reads a day without a time as that day at the current time of day:
# the time is given, so the answer does not depend on when the test runs.
git clone -q --shallow-since="2024-01-04 00:00:00 +0000" "$URL" "$T/since" 2>"$T/err" || { cat "$T/err" >&2; fail "--shallow-since"; }
clean "$T/since"
[ "$(count "$T/since")" = 4 ] || fail "--shallow-since: $(count "$T/since") commits"
ok "git clone --shallow-since: the commits since that day, fsck clean"

git -C "$T/shallow" fetch -q --unshallow 2>"$T/err" || { cat "$T/err" >&2; fail "--unshallow"; }
git -C "$T/shallow" fsck --strict --no-progress || fail "fsck --strict after --unshallow"
[ "$(count "$T/shallow")" = 7 ] || fail "after --unshallow: $(count "$T/shallow") commits"
[ ! -e "$T/shallow/.git/shallow" ] || fail "still shallow"
ok "git fetch --unshallow: the whole history, fsck --strict clean"

git clone -q --depth 1 --branch v1 "$URL" "$T/tagged" 2>"$T/err" || { cat "$T/err" >&2; fail "clone --depth 1 --branch v1"; }
clean "$T/tagged"
[ "$(count "$T/tagged")" = 1 ] || fail "tag clone depth"
ok "git clone --depth 1 --branch <annotated tag>"

if git clone -q --filter=blob:none "$URL" "$T/partial" 2>"$T/err"; then fail "a partial clone was served"; fi
expect_err "does not serve partial clones"
expect_err "without --filter"
ok "git clone --filter=blob:none is refused with a sentence git prints"

git clone -q --depth 1 "$MIRROR_URL/git/platform/deploy" "$T/nodotgit" 2>"$T/err" || { cat "$T/err" >&2; fail "clone without .git"; }
clean "$T/nodotgit"
[ "$(git -C "$T/nodotgit" rev-parse HEAD)" = "$(git -C "$T/src" rev-parse main)" ] || fail "HEAD without .git"
ok "the URL without .git names the same repository"

git -C "$T/nodotgit" commit -q --allow-empty -m mine
if git -C "$T/nodotgit" push -q origin HEAD:main 2>"$T/err"; then fail "push was accepted"; fi
expect_err "remote error: this mirror is read-only"
ok "a push is refused with an ERR pkt-line git prints"

# A merge of a branch that forked low in the history: depths count along
# every parent, and the boundary may hold several commits.
git clone -q "$URL" "$T/full" || fail "full clone"
git -C "$T/src" checkout -q -b side main~5
for i in 1 2; do
	printf 'side %s\n' "$i" >"$T/src/side$i"
	git -C "$T/src" add -A && git -C "$T/src" commit -qm "s$i"
done
git -C "$T/src" checkout -q main
git -C "$T/src" merge -q --no-edit side
mirror_git_export
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000003.tar
git clone -q --depth 2 "$URL" "$T/merge" 2>"$T/err" || { cat "$T/err" >&2; fail "clone --depth 2 of a merge"; }
clean "$T/merge"
[ "$(sort "$T/merge/.git/shallow")" = "$(git -C "$T/src" rev-parse main^1 main^2 | sort)" ] ||
	fail "the boundary is not both parents of the merge"
git -C "$T/merge" fetch -q --deepen=2 2>"$T/err" || { cat "$T/err" >&2; fail "deepen a merge"; }
clean "$T/merge"
[ "$(count "$T/merge")" = 7 ] || fail "after deepening the merge: $(count "$T/merge") commits"
git -C "$T/merge" fetch -q --unshallow 2>"$T/err" || { cat "$T/err" >&2; fail "unshallow the merge"; }
git -C "$T/merge" fsck --strict --no-progress || fail "fsck --strict after unshallowing the merge"
[ "$(count "$T/merge")" = "$(git -C "$T/src" rev-list --count main)" ] || fail "unshallowed merge count"
git -C "$T/full" fetch -q --depth=1 origin 2>"$T/err" || { cat "$T/err" >&2; fail "fetch --depth=1 into a full clone"; }
clean "$T/full"
[ "$(git -C "$T/full" rev-parse origin/main)" = "$(git -C "$T/src" rev-parse main)" ] || fail "fetch --depth=1"
ok "a merge: clone --depth 2, --deepen, --unshallow, and fetch --depth=1 into a full clone, fsck clean"
