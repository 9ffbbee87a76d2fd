#!/usr/bin/env bash
# Modes do not depend on the umask: under umask 000 (and 077) a store made,
# fed with an image and a git repository, and collected has directories
# 0755, files 0644 (git's read-only objects 0444) and credentials 0600;
# nothing is group- or world-writable, so a local user cannot move the refs
# the reconciler deploys. Output files a user names (mirror serve
# --port-file, receipt -o, trust -o) replace a regular file whole and
# refuse to replace anything else: a FIFO, a directory, a symbolic link.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq git sha256sum umoci
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/layout" 16 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
"$FERRY" keygen -o "$T/k" >/dev/null
git init -q -b main "$T/w"
echo hi >"$T/w/README"
git -C "$T/w" add -A && git -C "$T/w" -c user.name=t -c user.email=t@t commit -qm one
git clone -q --bare "$T/w" "$T/repo.git"
printf 'channel: c\nsources:\n  - oci-layout: %s\n    name: library/app\n  - git: %s\n    name: org/repo\n' \
	"$T/layout" "$T/repo.git" >"$T/spec.yaml"
printf 'alice:s3cr3t-pass\n' >"$T/creds"
mkdir "$T/bundles"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db"

for mask in 000 077; do
	S=$T/store-$mask
	(
		umask $mask
		"$FERRY" trust init --store "$S" --key "$T/k.pub" >/dev/null &&
		"$FERRY" import -q --store "$S" "$T"/bundles/*.tar &&
		"$FERRY" target add reg --store "$S" --kind oci --url http://127.0.0.1:1 \
			--credentials "$T/creds" >/dev/null &&
		"$FERRY" store gc --store "$S" >/dev/null
	) || fail "umask $mask: the store could not be made"
	[ -d "$S/git/org/repo.git" ] || fail "umask $mask: no repository in the store"
	bad=$(find "$S" \( -path "$S/staging" -o -path "$S/targets" \) -prune -o \
		\( -type d ! -perm 0755 -print \) -o \( -type f ! -perm 0644 ! -perm 0444 -print \))
	[ -z "$bad" ] || fail "umask $mask: wrong modes: $(for f in $bad; do stat -c '%a %n' "$f"; done)"
	[ -z "$(find "$S" -perm /022 ! -type l)" ] || fail "umask $mask: group/world-writable: $(find "$S" -perm /022 ! -type l)"
	[ "$(stat -c %a "$S/targets/reg.cred")" = 600 ] || fail "umask $mask: credentials are $(stat -c %a "$S/targets/reg.cred")"
	ok "umask $mask: store directories 0755, files 0644 or 0444, credentials 0600, none group- or world-writable"
done

# ---- output files -----------------------------------------------------------------------
S=$T/store-000
mkfifo "$T/fifo"
mkdir "$T/dir"
echo old >"$T/file"
ln -s "$T/file" "$T/link"
for target in fifo dir link; do
	expect_exit 1 timeout 20 "$FERRY" mirror serve --store "$S" --listen 127.0.0.1:0 --port-file "$T/$target"
	expect_err "refusing to replace '$T/$target'"
	expect_exit 1 "$FERRY" receipt --store "$S" --key "$T/k.key" -o "$T/$target"
	expect_err "refusing to replace '$T/$target'"
done
[ -p "$T/fifo" ] && [ -d "$T/dir" ] && [ -L "$T/link" ] && [ "$(cat "$T/file")" = old ] ||
	fail "an output replaced what is not a regular file"
ok "--port-file and receipt -o refuse a FIFO, a directory and a symbolic link, and leave them"

expect_exit 0 "$FERRY" receipt --store "$S" --key "$T/k.key" -o "$T/file"
[ -f "$T/file" ] && [ "$(cat "$T/file")" != old ] || fail "receipt -o did not replace a regular file"
ls "$T"/file.lock >/dev/null 2>&1 && fail "receipt -o left its lock file"
ok "receipt -o replaces a regular file whole"
