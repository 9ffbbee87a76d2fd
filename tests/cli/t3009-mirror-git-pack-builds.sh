#!/usr/bin/env bash
# git packs are built by at most --max-pack-builds builders: with one
# builder and a queue timeout of 1 s, eight simultaneous fetches of a 6 MiB
# repository of 512 KiB random blobs (each build searches deltas between
# them, a second or so) get either the pack or, once they waited too long,
# 503 with Retry-After; stock git clones afterwards. (bench/mirror-hostile.sh
# measures the memory.)
. "$(dirname "$0")/../lib/test-lib.sh"
need git curl python3
. "$SRC/tests/lib/mirror.sh"

mirror_big_repo "$T/src" 6 512
mirror_git_channel
mirror_git_export
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
expect_exit 0 "$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-000001.tar
HEAD_ID=$(git -C "$T/src" rev-parse main)

mirror_start "$T/store" --max-pack-builds 1 --pack-queue-timeout 1 || fail "mirror did not start"
at_exit mirror_stop
URL=$MIRROR_URL/git/platform/deploy.git
python3 -c '
import sys
l = "want %s side-band-64k ofs-delta\n" % sys.argv[1]
sys.stdout.write("%04x%s0000" % (len(l) + 4, l) + "0009done\n")' "$HEAD_ID" >"$T/req"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -s -D "$T/head$i" -o "$T/reply$i" -w '%{http_code}\n' --data-binary @"$T/req" \
		"$URL/git-upload-pack" >"$T/code$i" &
	pids+=($!)
done
wait "${pids[@]}"
served=0 busy=0
for i in 1 2 3 4 5 6 7 8; do
	case $(cat "$T/code$i") in
	200) grep -aq PACK "$T/reply$i" || fail "reply $i: 200 without a pack"
	     served=$((served + 1)) ;;
	503) grep -qi '^Retry-After: ' "$T/head$i" || fail "reply $i: 503 without Retry-After"
	     busy=$((busy + 1)) ;;
	*) fail "reply $i: HTTP $(cat "$T/code$i")" ;;
	esac
done
[ "$served" -ge 1 ] && [ "$busy" -ge 1 ] || fail "eight fetches at once: $served served, $busy refused"
ok "eight fetches at once with one builder: $served packs, $busy answered 503 with Retry-After"

git clone -q "$URL" "$T/clone" || fail "git clone failed"
git -C "$T/clone" fsck --no-progress || fail "fsck of the clone"
[ "$(git -C "$T/clone" rev-parse HEAD)" = "$HEAD_ID" ] || fail "clone HEAD differs"
ok "git clones once the builder is free"
