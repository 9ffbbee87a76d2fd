#!/usr/bin/env bash
# Peak memory of `ferry import` on a git "delta bomb" against stock git on
# the same bundle, in the same run. The bomb: a git bundle of ~300 KB whose
# pack holds a blob of SIZE_MB megabytes of one repeated byte and a second
# blob, one byte different, stored as a delta against it; it is signed by
# a test key with tests' forge-bundle, as an insider holding the key could.
#   1. ferry import (default limits): refused before indexing; peak RSS;
#   2. the reference: `git index-pack --stdin` on the same pack (what
#      `git clone` of the bundle runs), which builds both blobs; peak RSS;
#   3. ferry import with the limits raised (it imports): peak RSS.
# Prints the figures and ratios. Not a test.
#   bench/git-delta-bomb.sh [SIZE_MB] [WORKDIR]    (default 300, a new temp dir)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${1:-${SIZE_MB:-300}}
work=${2:-$(mktemp -d /var/tmp/ferry-bomb-bench.XXXXXX)}
ferry_src=${FERRY:-$top/build/cli/ferry}
forge=${FORGE:-$(dirname "$(dirname "$ferry_src")")/tests/forge-bundle}
[ -x "$forge" ] || { echo "forge-bundle not found at $forge (set FORGE)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }
. "$top/bench/lib/workdir.sh"

# peak RSS (KiB) and wall time of a command: "KIB SECONDS EXIT"
peak() {
	local rc=0
	/usr/bin/time -f '%M %e' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || rc=$?
	echo "$(tail -1 "$work/time") $rc"
}
ratio() { echo "scale=3; $1 / $2" | bc -l; }

echo "building the bomb ($size_mb MB x 2) ..." >&2
g=$work/bomb.git
git init -q --bare "$g"
head -c $((size_mb * 1000000)) /dev/zero | tr '\0' a >"$work/a.bin"
git --git-dir="$g" hash-object -w "$work/a.bin" >/dev/null
printf b | dd of="$work/a.bin" bs=1 seek=$((size_mb * 500000)) conv=notrunc 2>/dev/null
git --git-dir="$g" hash-object -w "$work/a.bin" >/dev/null
rm "$work/a.bin"
tree=$(for o in $(git --git-dir="$g" cat-file --batch-all-objects --batch-check='%(objectname)'); do
	printf '100644 blob %s\t%s.bin\n' "$o" "$o"; done | git --git-dir="$g" mktree)
commit=$(git --git-dir="$g" -c user.name=b -c user.email=b@b commit-tree "$tree" -m bomb)
git --git-dir="$g" update-ref refs/heads/main "$commit"
git --git-dir="$g" repack -adq
deltas=$(git --git-dir="$g" verify-pack -v "$g"/objects/pack/pack-*.idx | grep -c ' blob .* 1 [0-9a-f]\{40\}$' || true)
[ "$deltas" -ge 1 ] || { echo "the pack holds no delta" >&2; exit 1; }
git --git-dir="$g" bundle create -q "$work/bomb.bundle" refs/heads/main 2>/dev/null
sed '1,/^$/d' "$work/bomb.bundle" >"$work/bomb.pack"

l=$work/layout
mkdir -p "$l/blobs/sha256" "$work/forged"
printf '{"imageLayoutVersion":"1.0.0"}' >"$l/oci-layout"
printf '{"schemaVersion":2,"manifests":[]}' >"$l/index.json"
gd=$(sha256sum "$work/bomb.bundle" | cut -d' ' -f1)
cp "$work/bomb.bundle" "$l/blobs/sha256/$gd"
"$ferry" keygen -o "$work/k" >/dev/null
bundle=$("$forge" "$work/k.key" "$work/forged" bomb 1 "$l" "git:bench/bomb=$l/blobs/sha256/$gd")

# 1. ferry import, default limits: refused
"$ferry" trust init --store "$work/s1" --key "$work/k.pub" >/dev/null
read -r f_kib f_s f_rc <<<"$(peak "$ferry" import -q --store "$work/s1" "$bundle")"
f_msg=$(sed 's/^ferry import: //' "$work/stderr" | head -1)
[ "$f_rc" = 2 ] || { echo "ferry import exited $f_rc, not 2: $f_msg" >&2; exit 1; }

# 2. git index-pack on the same pack (git clone of the bundle runs it)
git init -q --bare "$work/idx.git"
read -r g_kib g_s g_rc <<<"$(cd "$work/idx.git" && peak sh -c 'git index-pack --stdin <"$1"' - "$work/bomb.pack")"
[ "$g_rc" = 0 ] || { echo "git index-pack failed" >&2; cat "$work/stderr" >&2; exit 1; }

# 3. ferry import with the limits raised: it imports
"$ferry" trust init --store "$work/s2" --key "$work/k.pub" >/dev/null
read -r a_kib a_s a_rc <<<"$(peak "$ferry" import -q --store "$work/s2" --git-max-object 0 \
	--git-max-total 0 "$bundle")"
[ "$a_rc" = 0 ] || { echo "ferry import with raised limits exited $a_rc" >&2; cat "$work/stderr" >&2; exit 1; }

echo
echo "bomb: git bundle of $(stat -c %s "$work/bomb.bundle") bytes, 2 blobs of $size_mb MB, $deltas delta(s)"
printf '%-52s %12s %8s\n' "" "peak RSS KiB" "time s"
printf '%-52s %12d %8.2f\n' "git index-pack --stdin (reference, builds both)" "$g_kib" "$g_s"
printf '%-52s %12d %8.2f\n' "ferry import, default limits (refused)" "$f_kib" "$f_s"
printf '%-52s %12d %8.2f\n' "ferry import, limits raised (imported)" "$a_kib" "$a_s"
echo
echo "refused with: $f_msg"
echo "refused import: $(ratio "$f_kib" "$g_kib") x git's peak RSS (aim < 64 MiB: $([ "$f_kib" -lt 65536 ] && echo "GOAL MET" || echo "GOAL MISSED"))"
echo "admitted import: $(ratio "$a_kib" "$g_kib") x git's peak RSS"
