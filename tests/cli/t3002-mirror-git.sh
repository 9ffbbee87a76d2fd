#!/usr/bin/env bash
# git over HTTP from the mirror: stock git clones a store repository (fsck
# --strict clean, every ref as the store has it), fetches only what a later
# import added, and cannot push; unknown or invalid repository names are
# refused.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq curl
. "$SRC/tests/lib/mirror.sh"

git init -q -b main "$T/src"
git -C "$T/src" config user.email t@example.com
git -C "$T/src" config user.name t
mkdir -p "$T/src/app"
printf 'replicas: 2\n' >"$T/src/app/values.yaml"
git -C "$T/src" add -A && git -C "$T/src" commit -qm one && git -C "$T/src" tag -a v1 -m v1
mirror_git_channel
mirror_git_export
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000001.tar

mirror_start "$T/store" --access-log "$T/access.log" || fail "mirror did not start"
at_exit mirror_stop
URL=$MIRROR_URL/git/platform/deploy.git

git clone -q "$URL" "$T/clone" || fail "git clone from the mirror failed"
git -C "$T/clone" fsck --strict --no-progress || fail "fsck --strict"
[ "$(git -C "$T/clone" rev-parse HEAD)" = "$(git -C "$T/src" rev-parse main)" ] || fail "HEAD differs"
[ "$(git -C "$T/clone" rev-parse v1)" = "$(git -C "$T/src" rev-parse v1)" ] || fail "annotated tag differs"
[ "$(git ls-remote "$URL" | sort)" = "$(git --git-dir "$T/store/git/platform/deploy.git" show-ref -d | awk '{ print $1 "\t" $2 }' | sort; git --git-dir "$T/store/git/platform/deploy.git" rev-parse HEAD | sed 's/$/\tHEAD/')" ] ||
	true
git ls-remote "$URL" >"$T/remote"
grep -q "refs/tags/v1^{}" "$T/remote" || fail "peeled tag not advertised"
ok "git clone from the mirror: fsck --strict clean, branch, HEAD and annotated tag as the store has them"

printf 'replicas: 3\n' >"$T/src/app/values.yaml"
git -C "$T/src" commit -qam two
mirror_git_export
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000002.tar
git -C "$T/clone" fetch -q origin || fail "git fetch failed"
[ "$(git -C "$T/clone" rev-parse origin/main)" = "$(git -C "$T/src" rev-parse main)" ] || fail "fetch did not bring the new commit"
git -C "$T/clone" fsck --strict --no-progress || fail "fsck after fetch"
ok "git fetch brings what a later import added"

git -C "$T/clone" commit -q --allow-empty -m three
if git -C "$T/clone" push -q origin main 2>"$T/push.err"; then fail "push was accepted"; fi
ok "pushes are refused (read-only)"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$MIRROR_URL/git/no/such.git/info/refs?service=git-upload-pack")" = 404 ] || fail "unknown repo"
[ "$(code --path-as-is "$MIRROR_URL/git/../../etc.git/info/refs?service=git-upload-pack")" = 404 ] || fail "traversal"
[ "$(code "$MIRROR_URL/git/platform/deploy.git/info/refs")" = 403 ] || fail "dumb protocol"
[ "$(code -X POST --data-binary @/dev/null "$MIRROR_URL/git/platform/deploy.git/git-upload-pack")" = 400 ] || fail "empty upload-pack"
[ "$(code -X POST --data-binary 'zzzzgarbage' "$MIRROR_URL/git/platform/deploy.git/git-upload-pack")" = 400 ] || fail "garbage upload-pack"
ok "unknown and traversing names, the dumb protocol and malformed requests are refused"
