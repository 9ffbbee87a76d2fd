#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Outside text never reaches a terminal, the log or the audit table raw.
# Bundles signed by the trusted key but written by forge-bundle carry
#   a member named ESC[2K CR "good.tar: OK channel c1 sequence 1" (which on a
#   terminal would erase the FAILED line and print an OK one), and
#   an image reference with ESC, BEL, CR, LF and a C1 control (jq turns an
#   invalid byte into U+FFFD, so invalid UTF-8 is left to the unit test);
# 'ferry verify', 'ferry import' and 'ferry inspect' refuse or show them
# with no ESC, CR, C1 or invalid byte in their output (the bytes appear as
# \xNN), and the audit rows import writes hold no such byte either.
need jq sqlite3 sha256sum python3 od
. "$SRC/tests/lib/forge.sh"

"$FERRY" keygen -o "$T/k" >/dev/null
S=$T/store
expect_exit 0 "$FERRY" trust init --store "$S" --key "$T/k.pub"

# clean WHAT FILE...: no raw ESC, CR, LF inside a line, C1 or invalid UTF-8.
clean() {
	local what=$1 f
	shift
	for f in "$@"; do
		python3 - "$f" "$what" <<'PY' || fail "$2: $(od -c "$f" | head -20)"
import sys
d = open(sys.argv[1], 'rb').read()
try:
    t = d.decode('utf-8')
except UnicodeDecodeError as e:
    sys.exit('%s: invalid UTF-8 in output: %s' % (sys.argv[2], e))
bad = [c for c in t if (ord(c) < 0x20 and c != '\n') or 0x7f <= ord(c) <= 0x9f]
if bad:
    sys.exit('%s: control characters in output: %r' % (sys.argv[2], bad))
PY
	done
}
audit_dump() { sqlite3 "$S/ferry.db" "SELECT reason FROM audit" >"$T/audit"; }

# ---- a member named to look like an OK line ---------------------------------
L=$T/l1
layout "$L"
NAME=$(printf '\033[2K\rgood.tar: OK channel c1 sequence 1')
printf 'x' >"$L/blobs/sha256/$NAME"
mkdir -p "$T/forged"
"$FORGE" "$T/k.key" "$T/forged" c1 1 "$L" || fail "forge-bundle"
B=$T/forged/ferry-c1-000001.tar
expect_exit 2 "$FERRY" verify --trust-key "$T/k.pub" "$B"
grep -qF '\x1b[2K\x0dgood.tar: OK channel c1 sequence 1' "$T/out" "$T/err" ||
	{ cat "$T/out" "$T/err"; fail "verify does not show the name escaped"; }
clean "verify" "$T/out" "$T/err"
! grep -qP '\x1b|\r' "$T/out" "$T/err" || fail "verify printed a raw ESC or CR"
ok "verify: the member name is shown as \\x1b[2K\\x0d..., no raw ESC or CR"
expect_exit 2 "$FERRY" import -q --no-seed --store "$S" "$B"
expect_err '\x1b[2K\x0dgood.tar'
clean "import" "$T/out" "$T/err"
audit_dump
grep -qF '\x1b[2K\x0dgood.tar' "$T/audit" || fail "the audit row does not name the member: $(cat "$T/audit")"
clean "audit" "$T/audit"
ok "import: refused naming the member escaped; the audit row holds no raw control byte"

# ---- a reference with control bytes and invalid UTF-8 --------------------------
L=$T/l2
layout "$L"
printf '{"architecture":"amd64","os":"linux"}' >"$T/blob"
D=$(sha256sum "$T/blob" | cut -d' ' -f1)
cp "$T/blob" "$L/blobs/sha256/$D"
REF=$(printf 'example.org/app:\033]0;owned\a\r\n\302\233\377')
jq -c --arg r "$REF" --arg d "sha256:$D" \
	'.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: 37,
	  annotations: {"org.opencontainers.image.ref.name": $r}}]' "$L/index.json" >"$L/i" && mv "$L/i" "$L/index.json"
rm -rf "$T/forged" && mkdir "$T/forged"
"$FORGE" "$T/k.key" "$T/forged" c2 1 "$L" || fail "forge-bundle"
B=$T/forged/ferry-c2-000001.tar
"$FERRY" inspect "$B" >"$T/out" 2>"$T/err" || true
clean "inspect" "$T/out" "$T/err"
grep -qF 'example.org/app:\x1b]0;owned\x07\x0d\x0a\xc2\x9b' "$T/out" "$T/err" ||
	{ cat "$T/out" "$T/err"; fail "inspect does not show the reference escaped"; }
ok "inspect (no trusted key): the reference is shown escaped"
"$FERRY" import -q --no-seed --store "$S" "$B" >"$T/out" 2>"$T/err" || true
clean "import" "$T/out" "$T/err"
audit_dump
clean "audit" "$T/audit"
ok "import of the reference: output and audit rows hold no raw control byte or invalid UTF-8"
