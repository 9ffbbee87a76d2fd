#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# The bundle reader accepts exactly the tar subset of docs/bundle-format.md
# section 3 and names everything else, with no key needed to see it: each
# case below is crafted from a valid, signed bundle by editing its raw tar
# headers (python3), and 'ferry verify' and 'ferry import' must both refuse
# it (exit 2) naming the member and what it is, leaving the store as it was:
#   a pax global header (typeflag 'g', with uid/gid or path=) at the start
#   and before member 3; member 3's typeflag changed to '7', 'I', 'N', 'S';
#   a GNU volume header 'V'; an 'x' header with a foreign key (uid, uname,
#   path+uid) before member 3; a GNU-format (not ustar) header.
# Differential: the valid bundle extracted by GNU tar and by busybox tar
# (and bsdtar when installed) gives exactly the members 'ferry inspect'
# lists, with their sizes and mode 0644.
need python3 sqlite3 sha256sum jq tar

mkdir -p "$T/files" "$T/bundles"
printf 'alpha\n' >"$T/files/a.txt"
head -c 70000 /dev/urandom >"$T/files/b.bin"
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: hostile\nsources:\n  - file: files\n    name: tools/bundle\n    tag: v1\n' >"$T/spec.yaml"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
B=$T/bundles/ferry-hostile-000001.tar
[ -f "$B" ] || fail "no bundle written"
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null

store_state() {
	(cd "$T/store" && find . -path ./staging -prune -o -type f ! -name 'ferry.db*' ! -name lock -print0 |
		sort -z | xargs -0 -r sha256sum
	 sqlite3 "$T/store/ferry.db" .dump | grep -v '^INSERT INTO audit')
}
H0=$(store_state | sha256sum)

expect_exit 0 "$FERRY" verify --trust-key "$T/k.pub" "$B"
ok "control: the untouched bundle verifies"

# craft OUT CASE: write a hostile copy of $B.
craft() {
	python3 - "$B" "$1" "$2" <<'PY'
import sys
src, out, case = sys.argv[1], sys.argv[2], sys.argv[3]
d = open(src, 'rb').read()

def chk(h):
    h = bytearray(h)
    h[148:156] = b' ' * 8
    h[148:156] = b'%06o\0 ' % sum(h)
    return bytes(h)

def header(name, flag, size, magic=b'ustar\x0000'):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b'0000644\0'
    h[108:116] = b'0000000\0'
    h[116:124] = b'0000000\0'
    h[124:136] = b'%011o\0' % size
    h[136:148] = b'00000000000\0'
    h[156:157] = flag
    h[257:265] = magic
    return chk(h)

def pad(b):
    return b + b'\0' * (-len(b) % 512)

def record(k, v):
    body = b' ' + k + b'=' + v + b'\n'
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body

def pax(flag, recs):
    data = b''.join(record(k, v) for k, v in recs)
    return header(b'PaxHeader/x', flag, len(data)) + pad(data)

# members: [header blocks..., data] split at logical member boundaries
members, o = [], 0
while True:
    h = d[o:o + 512]
    if h == b'\0' * 512:
        break
    start = o
    while h[156:157] == b'x':
        size = int(h[124:136].strip(b'\0 '), 8)
        o += 512 + (size + 511) // 512 * 512
        h = d[o:o + 512]
    size = int(h[124:136].strip(b'\0 '), 8)
    o += 512 + (size + 511) // 512 * 512
    members.append([start, o])
tail = d[o:]
parts = [bytearray(d[s:e]) for s, e in members]
assert len(parts) >= 3, len(parts)

def set_flag(i, flag):
    parts[i][156:157] = flag
    parts[i][0:512] = chk(parts[i][0:512])

g_uid = pax(b'g', [(b'uid', b'65534'), (b'gid', b'65534')])
if case == 'g-first':
    parts.insert(0, bytearray(g_uid))
elif case == 'g-path':
    parts.insert(2, bytearray(pax(b'g', [(b'path', b'renamed')])))
elif case in ('7', 'I', 'N', 'S'):
    set_flag(2, case.encode())
elif case == 'V':
    parts.insert(2, bytearray(header(b'volume label', b'V', 0)))
elif case == 'x-uid':
    parts[2] = bytearray(pax(b'x', [(b'uid', b'65534')])) + parts[2]
elif case == 'x-uname':
    parts[2] = bytearray(pax(b'x', [(b'mtime', b'1'), (b'uname', b'nobody')])) + parts[2]
elif case == 'x-path':
    parts[2] = bytearray(pax(b'x', [(b'path', b'blobs/x'), (b'gid', b'7')])) + parts[2]
elif case == 'x-twice':
    parts[2] = bytearray(pax(b'x', [(b'mtime', b'1')]) + pax(b'x', [(b'mtime', b'2')])) + parts[2]
elif case == 'gnu':
    h = bytearray(parts[2][0:512])
    h[257:265] = b'ustar  \0'
    parts[2][0:512] = chk(h)
else:
    raise SystemExit('unknown case ' + case)
open(out, 'wb').write(b''.join(bytes(p) for p in parts) + tail)
PY
}

# refuse CASE TEXT: both commands refuse the crafted copy naming TEXT.
refuse() {
	local w=$T/w-$1.tar
	craft "$w" "$1" || fail "cannot craft $1"
	expect_exit 2 "$FERRY" verify --trust-key "$T/k.pub" "$w"
	expect_err "$2"
	expect_exit 2 "$FERRY" import -q --no-seed --store "$T/store" "$w"
	expect_err "$2"
	[ "$(store_state | sha256sum)" = "$H0" ] || fail "$1: the store changed"
	ok "$1: verify and import refuse it: $2"
}
refuse g-first "member 1: a pax global header (typeflag 'g') is not allowed in a bundle"
refuse g-path "member 3: a pax global header (typeflag 'g') is not allowed in a bundle"
refuse 7 "member 3: a contiguous file (typeflag '7') is not allowed in a bundle"
refuse I "member 3: an inode-only entry (typeflag 'I') is not allowed in a bundle"
refuse N "member 3: a GNU old long name (typeflag 'N') is not allowed in a bundle"
refuse S "member 3: a GNU sparse file (typeflag 'S') is not allowed in a bundle"
refuse V "member 3: a GNU volume header (typeflag 'V') is not allowed in a bundle"
refuse x-uid "member 3: pax extended header key 'uid' is not allowed in a bundle"
refuse x-uname "member 3: pax extended header key 'uname' is not allowed in a bundle"
refuse x-path "member 3: pax extended header key 'gid' is not allowed in a bundle"
refuse x-twice "member 3: a second pax extended header (typeflag 'x') is not allowed in a bundle"
refuse gnu "member 3: not a ustar/pax header"

# ---- differential: what stock tools extract is what ferry lists -------------
expect_exit 0 "$FERRY" inspect --json --trust-key "$T/k.pub" "$B"
jq -r '.members[] | "\(.path) \(.size) 644"' "$T/out" | sort >"$T/want"
[ -s "$T/want" ] || fail "inspect lists no members"
# listing DIR: "PATH SIZE MODE" of every file under DIR but the envelope and
# the contents list; no
# other kind of entry may appear.
listing() {
	(cd "$1" && [ -z "$(find . ! -type f ! -type d)" ] || fail "$1: not only files"
	 find . -type f ! -name ferry-manifest.dsse.json ! -name ferry-contents.jsonl -printf '%P %s %m\n' | sort)
}
extract_with() { # NAME COMMAND...
	local name=$1 dir=$T/x-$1
	shift
	mkdir "$dir"
	(cd "$dir" && "$@" <"$B") || fail "$name could not extract the bundle"
	listing "$dir" >"$T/got-$name"
	diff "$T/want" "$T/got-$name" >&2 || fail "$name extracts other members than ferry inspect lists"
	ok "differential: $name extracts exactly the members, sizes and modes ferry lists"
}
extract_with gnu-tar tar --no-same-permissions --delay-directory-restore -xf -
if busybox tar --help >/dev/null 2>&1; then
	extract_with busybox-tar busybox tar -xf -
else
	echo "# busybox not installed: no busybox tar comparison"
fi
if command -v bsdtar >/dev/null 2>&1; then
	extract_with bsdtar bsdtar -xf -
else
	echo "# bsdtar (libarchive-tools) not installed: no bsdtar comparison"
fi
