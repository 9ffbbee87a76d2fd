#!/usr/bin/env bash
# The mirror's upload-pack serves only what its advertisement names: after a
# secret was committed, exported and then amended away (a forced, incremental
# export), the old commit and the secret blob stay in the store's object
# database, but a raw request wanting either by id is refused with an ERR
# pkt-line naming it and no pack, while git clones the advertised refs; a
# shallow request naming the old commit as its boundary reaches nothing.
. "$(dirname "$0")/../lib/test-lib.sh"
need git curl
. "$SRC/tests/lib/mirror.sh"

git init -q -b main "$T/src"
git -C "$T/src" config user.email t@example.com
git -C "$T/src" config user.name t
printf 'replicas: 2\n' >"$T/src/values.yaml"
git -C "$T/src" add -A && git -C "$T/src" commit -qm one
printf 'password: hunter2-secret\n' >"$T/src/secret.txt"
git -C "$T/src" add -A && git -C "$T/src" commit -qm oops
OLD=$(git -C "$T/src" rev-parse HEAD)
BLOB=$(git -C "$T/src" rev-parse HEAD:secret.txt)
mirror_git_channel
mirror_git_export
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000001.tar

# Rewrite: the secret is amended away and the branch exported again (forced).
git -C "$T/src" rm -q secret.txt
printf 'replicas: 3\n' >"$T/src/values.yaml"
git -C "$T/src" add values.yaml
git -C "$T/src" commit -q --amend -m "one, again"
NEW=$(git -C "$T/src" rev-parse HEAD)
mirror_git_export
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000002.tar
STORE_GIT=$T/store/git/platform/deploy.git
[ "$(git --git-dir "$STORE_GIT" rev-parse refs/heads/main)" = "$NEW" ] || fail "the store's main is not the rewritten commit"
git --git-dir "$STORE_GIT" cat-file -e "$BLOB" || fail "test premise: the secret blob should still be in the store"

mirror_start "$T/store" || fail "mirror did not start"
at_exit mirror_stop
URL=$MIRROR_URL/git/platform/deploy.git

# A raw upload-pack request: want, flush, done.
want() {
	local id=$1 caps=${2:-}
	printf '%04x%s' $((4 + 5 + 40 + ${#caps} + 1)) "want $id$caps"
	printf '\n0000'
	printf '0009done\n'
}
post() {
	curl -s -o "$T/reply" -w '%{http_code}' -H 'Content-Type: application/x-git-upload-pack-request' \
		--data-binary @"$1" "$URL/git-upload-pack"
}
for id in "$OLD" "$BLOB"; do
	want "$id" " side-band-64k ofs-delta" >"$T/req"
	post "$T/req" >"$T/code"
	grep -aq "ERR upload-pack: not our ref $id" "$T/reply" || { od -c "$T/reply" | head >&2; fail "want $id was not refused"; }
	grep -aq PACK "$T/reply" && fail "a pack was sent for $id"
	# the secret's bytes never leave, in any encoding
	grep -aq hunter2 "$T/reply" && fail "secret in the reply"
done
ok "wants of a rewritten-away commit and of its secret blob are refused with ERR, no pack"

# An advertised tip after a refused want: the whole request is refused.
{ printf '%04x%s\n' 50 "want $NEW"; printf '%04x%s\n' 50 "want $OLD"; printf '00000009done\n'; } >"$T/req"
post "$T/req" >/dev/null
grep -aq "ERR upload-pack: not our ref $OLD" "$T/reply" || fail "mixed wants were not refused"
grep -aq PACK "$T/reply" && fail "a pack was sent for mixed wants"
ok "a request mixing an advertised tip with an unadvertised id is refused whole"

want "$NEW" >"$T/req"
[ "$(post "$T/req")" = 200 ] || fail "want of the advertised tip failed"
grep -aq PACK "$T/reply" || fail "no pack for the advertised tip"
git clone -q "$URL" "$T/clone" || fail "git clone failed"
[ "$(git -C "$T/clone" rev-parse HEAD)" = "$NEW" ] || fail "clone HEAD differs"
git -C "$T/clone" cat-file -e "$BLOB" 2>/dev/null && fail "the clone holds the secret blob"
git -C "$T/clone" cat-file -e "$OLD" 2>/dev/null && fail "the clone holds the rewritten commit"
git -C "$T/clone" fetch -q origin "$OLD" 2>"$T/fetch.err" && fail "git fetch of the old commit by id succeeded"
grep -Eq "not our ref|unadvertised object" "$T/fetch.err" || { cat "$T/fetch.err" >&2; fail "git fetch by id was not refused as unadvertised"; }
ok "git clones the advertised refs (without the rewritten history), and cannot fetch the old commit by id"

# Shallow lines never lead the walk: a client naming the rewritten-away
# commit as its boundary, deepen-relative or not, gets only what the
# advertised tip reaches (no "unshallow", neither the old commit nor the
# secret in the pack).
unpack() {   # the pack of a side-band reply into the repository $1, listed
	python3 - "$T/reply" >"$T/reply.pack" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read(); i = 0; out = sys.stdout.buffer
while i + 4 <= len(d):
    n = int(d[i:i + 4], 16)
    if n == 0: i += 4; continue
    p = d[i + 4:i + n]; i += n
    if p[:1] == b'\x01': out.write(p[1:])
PY
	rm -rf "$1" && git init -q --bare "$1" && git --git-dir "$1" index-pack --stdin <"$T/reply.pack" >/dev/null &&
		git --git-dir "$1" cat-file --batch-all-objects --batch-check='%(objectname)'
}
for relative in " deepen-relative" ""; do
	{ printf '%04x%s\n' $((50 + 14 + ${#relative})) "want $NEW side-band-64k$relative"
	  printf '%04x%s\n' 53 "shallow $OLD"; printf '%04x%s\n' 13 "deepen 5"
	  printf '00000009done\n'; } >"$T/req"
	[ "$(post "$T/req")" = 200 ] || fail "shallow request failed"
	grep -aq "unshallow" "$T/reply" && fail "the unreachable boundary was unshallowed"
	unpack "$T/unpacked" >"$T/objects" || { od -c "$T/reply" | head -20 >&2; fail "cannot read the reply's pack"; }
	grep -q "$NEW" "$T/objects" || fail "the tip is not in the pack"
	grep -q -e "$OLD" -e "$BLOB" "$T/objects" && fail "the pack holds rewritten history"
done
ok "a shallow line naming the rewritten-away commit reaches nothing (deepen-relative or not)"
