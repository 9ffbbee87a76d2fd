#!/usr/bin/env bash
# A git "delta bomb": a bundle of ~300 KB whose pack holds a 300 MB blob of
# one repeated byte and a second blob, one byte different, stored as a
# delta against it. Signed by the trusted key (forge-bundle, as an insider
# holding the key could), it must be refused by ferry import before
# libgit2 indexes the pack:
#   - by the single-object limit (default 256 MiB), naming the repository,
#     the object and the sizes, exit 2, the store unchanged, and with a
#     peak RSS of the import below 64 MiB (not measured under a sanitizer);
#   - with --git-max-object raised, by --git-max-total at the delta, whose
#     result size is read from its first bytes, not built;
#   - by ferry verify --store, which runs the same checks.
# With both limits raised far enough, the same bundle imports.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq sqlite3 sha256sum
FORGE=${FERRY_FORGE_BUNDLE:-$FERRY_BUILD_DIR/tests/forge-bundle}
[ -x "$FORGE" ] || fail "forge-bundle not found at $FORGE"

"$FERRY" keygen -o "$T/k" >/dev/null
S=$T/store
expect_exit 0 "$FERRY" trust init --store "$S" --key "$T/k.pub"

# ---- the bomb ------------------------------------------------------------------------------
G=$T/bomb.git
git init -q --bare "$G"
head -c 300000000 /dev/zero | tr '\0' a >"$T/a.bin"
A=$(git --git-dir="$G" hash-object -w "$T/a.bin")
printf b | dd of="$T/a.bin" bs=1 seek=150000000 conv=notrunc 2>/dev/null
B=$(git --git-dir="$G" hash-object -w "$T/a.bin")
rm "$T/a.bin"
TREE=$(printf '100644 blob %s\ta.bin\n100644 blob %s\tb.bin\n' "$A" "$B" | git --git-dir="$G" mktree)
C=$(git --git-dir="$G" -c user.name=t -c user.email=t@t commit-tree "$TREE" -m bomb)
git --git-dir="$G" update-ref refs/heads/main "$C"
git --git-dir="$G" repack -adq
git --git-dir="$G" verify-pack -v "$G"/objects/pack/pack-*.idx >"$T/verify-pack"
grep -Eq "^($A|$B) blob .* 1 [0-9a-f]{40}\$" "$T/verify-pack" ||
	{ cat "$T/verify-pack" >&2; fail "the pack holds no delta between the two blobs"; }
git --git-dir="$G" bundle create -q "$T/bomb.bundle" refs/heads/main 2>/dev/null
size=$(stat -c %s "$T/bomb.bundle")
[ "$size" -lt 1000000 ] || fail "the bomb's git bundle is $size bytes"
ok "a git bundle of $size bytes holds a delta pair inflating to 600 MB"

L=$T/layout
mkdir -p "$L/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
printf '{"schemaVersion":2,"manifests":[]}' >"$L/index.json"
gd=$(sha256sum "$T/bomb.bundle" | cut -d' ' -f1)
cp "$T/bomb.bundle" "$L/blobs/sha256/$gd"
mkdir -p "$T/forged"
"$FORGE" "$T/k.key" "$T/forged" bomb 1 "$L" "git:org/bomb=$L/blobs/sha256/$gd" >"$T/path" ||
	fail "forge-bundle"
BUNDLE=$(cat "$T/path")

state() {
	{
		(cd "$S" && find . \( -path ./staging -o -name 'ferry.db*' -o -path ./lock \) -prune \
			-o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
		sqlite3 "$S/ferry.db" 'SELECT * FROM tags; SELECT * FROM blobs; SELECT * FROM channels'
	} | sha256sum
}
sanitized() { grep -Eq '^FERRY_SANITIZE:[A-Z]+=.+' "${FERRY_BUILD_DIR:-/nonexistent}/CMakeCache.txt" 2>/dev/null; }

# ---- refused by the single-object limit ----------------------------------------------------
before=$(state)
expect_exit 2 /usr/bin/time -f %M -o "$T/rss" "$FERRY" import -q --store "$S" "$BUNDLE"
expect_err "repository 'org/bomb'"
expect_err "inflates to 300000000 bytes, above the limit of 268435456 bytes for one object"
expect_err "of the pack (a blob) inflates to"
msg=$(grep -o "repository 'org/bomb'.*" "$T/err" | head -1)
[ "$(state)" = "$before" ] || fail "a refused import changed the store"
[ ! -e "$S/git/org/bomb.git" ] || fail "the repository org/bomb was created"
expect_exit 0 "$FERRY" store fsck --store "$S"
ok "refused: $msg"
rss=$(tail -1 "$T/rss")
if sanitized; then
	ok "# skip peak RSS under a sanitizer ($rss KiB)"
else
	[ "$rss" -lt 65536 ] || fail "the refused import peaked at $rss KiB (limit 64 MiB)"
	ok "the refused import peaked at $rss KiB"
fi

# ---- refused by the total, at the delta ----------------------------------------------------
expect_exit 2 "$FERRY" import -q --store "$S" --git-max-object 1G --git-max-total 400M "$BUNDLE"
expect_err "repository 'org/bomb'"
expect_err "the pack's objects inflate to more than the limit of 419430400 bytes in all"
expect_err "bytes before object"
expect_err "of the pack (a delta on the object at offset "
[ "$(state)" = "$before" ] || fail "a refused import changed the store"
ok "refused by --git-max-total at the delta, from its header"

expect_exit 2 "$FERRY" verify --store "$S" "$BUNDLE"
expect_err "inflates to 300000000 bytes, above the limit of 268435456 bytes for one object"
[ "$(state)" = "$before" ] || fail "verify --store changed the store"
ok "ferry verify --store refuses it too"

expect_exit 64 "$FERRY" import -q --store "$S" --git-max-object lots "$BUNDLE"
ok "a bad size is a usage error"

# ---- the limits raised: it imports --------------------------------------------------------
# Indexing and checking 600 MB takes minutes under a sanitizer; the normal
# build runs it.
if sanitized; then
	ok "# skip the 600 MB import under a sanitizer"
	exit 0
fi
expect_exit 0 "$FERRY" import -q --store "$S" --git-max-object 0 --git-max-total 2G "$BUNDLE"
[ "$(git --git-dir="$S/git/org/bomb.git" rev-parse refs/heads/main)" = "$C" ] ||
	fail "refs/heads/main was not published"
ok "with the limits raised the bundle imports"
