#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# ferry keygen: writes PREFIX.pub (0644) and PREFIX.key (0600, even under a
# permissive umask), refuses to overwrite without --force, and produces
# keys that stock minisign uses as they are (sign without a password
# prompt, verify with the .pub). Also: the printed key id is the one in
# the files, --help exits 0, bad usage exits 64, and ferry loads keys made
# by stock minisign (unencrypted ones; encrypted ones are refused by name).
need minisign stat sha256sum

cd "$T"

# ---- files and modes -------------------------------------------------------
umask 022
expect_exit 0 "$FERRY" keygen -o "$T/k"
[ -f k.pub ] && [ -f k.key ] || fail "keygen did not write k.pub and k.key"
[ "$(stat -c %a k.key)" = 600 ] || fail "k.key has mode $(stat -c %a k.key), want 600"
[ "$(stat -c %a k.pub)" = 644 ] || fail "k.pub has mode $(stat -c %a k.pub), want 644"
ok "keygen writes k.pub (0644) and k.key (0600)"

# The key id keygen prints is the one both files name (minisign prints the
# 8-byte key number as 16 upper-case hex digits).
id=$(sed -n 's/^key id \([0-9A-F]\{16\}\)$/\1/p' "$T/out")
[ -n "$id" ] || fail "keygen printed no key id: $(cat "$T/out")"
expect_out "public key $T/k.pub"
expect_out "secret key $T/k.key"
[ "$(head -n1 k.pub)" = "untrusted comment: minisign public key $id" ] ||
	fail "k.pub comment does not name key $id: $(head -n1 k.pub)"
[ "$(head -n1 k.key)" = "untrusted comment: minisign secret key $id" ] ||
	fail "k.key comment does not name key $id: $(head -n1 k.key)"
[ "$(wc -l <k.pub)" = 2 ] && [ "$(wc -l <k.key)" = 2 ] || fail "key files are not two lines"
ok "keygen prints key id $id, the id both key files carry"

# A permissive umask must not make the secret key readable by others.
(umask 000 && "$FERRY" keygen -o "$T/open" >/dev/null) || fail "keygen under umask 000 failed"
[ "$(stat -c %a open.key)" = 600 ] || fail "under umask 000 open.key has mode $(stat -c %a open.key)"
ok "under umask 000 the secret key is still 0600"

# Two key pairs never share an id.
[ "$(sed -n 2p k.pub)" != "$(sed -n 2p open.pub)" ] || fail "two keygen runs made the same key"
ok "each keygen run makes a new key"

# ---- no overwrite without --force -----------------------------------------
before=$(sha256sum k.pub k.key)
expect_exit 1 "$FERRY" keygen -o "$T/k"
expect_err "exists (use --force to replace)"
expect_err "k.pub"
[ "$(sha256sum k.pub k.key)" = "$before" ] || fail "a refused keygen changed the key files"
ok "keygen refuses to replace an existing pair (exit 1, files untouched)"

# Either file alone is enough to refuse.
: >only.pub
expect_exit 1 "$FERRY" keygen -o "$T/only"
expect_err "exists (use --force to replace)"
[ ! -e only.key ] && [ ! -s only.pub ] || fail "keygen wrote next to an existing only.pub"
ok "keygen refuses when only PREFIX.pub exists"

# --force replaces both, and re-tightens a loosened secret key's mode.
chmod 644 k.key
expect_exit 0 "$FERRY" keygen -o "$T/k" --force
[ "$(sha256sum k.pub k.key)" != "$before" ] || fail "keygen --force did not replace the keys"
[ "$(stat -c %a k.key)" = 600 ] || fail "after --force k.key has mode $(stat -c %a k.key)"
newid=$(sed -n 's/^key id \([0-9A-F]\{16\}\)$/\1/p' "$T/out")
[ -n "$newid" ] && [ "$newid" != "$id" ] || fail "keygen --force kept key id $id"
ok "keygen --force replaces the pair (new id $newid, key 0600)"
expect_exit 0 "$FERRY" keygen -f -o "$T/k"
ok "keygen -f works as --force"

# ---- stock minisign --------------------------------------------------------
head -c 100000 /dev/urandom >file
# An unencrypted key must not ask for a password: stdin is empty, and
# stderr must not show a prompt.
got=0
minisign -S -s k.key -m file </dev/null >"$T/out" 2>"$T/err" || got=$?
[ "$got" = 0 ] || { cat "$T/out" "$T/err" >&2; fail "stock minisign cannot sign with a ferry key (exit $got)"; }
if grep -qi password "$T/out" "$T/err"; then
	cat "$T/out" "$T/err" >&2
	fail "stock minisign asked for a password for an unencrypted ferry key"
fi
[ -s file.minisig ] || fail "minisign -S wrote no file.minisig"
ok "stock minisign signs with the ferry secret key, no password prompt"

expect_exit 0 minisign -V -p k.pub -m file
expect_out "Signature and comment signature verified"
ok "stock minisign verifies that signature with the ferry .pub"

# ...and only with that key, and only for that content.
expect_exit 1 minisign -V -p open.pub -m file
printf x >>file
expect_exit 1 minisign -V -p k.pub -m file
ok "stock minisign rejects the signature with another key or changed content"

# ---- ferry keys in ferry; stock minisign's keys: unencrypted ok, encrypted refused
minisign -G -W -p "$T/stock.pub" -s "$T/stock.key" </dev/null >/dev/null 2>&1 ||
	fail "minisign -G -W failed"
printf 'pw\npw\n' | minisign -G -p "$T/enc.pub" -s "$T/enc.key" >/dev/null 2>&1 ||
	fail "minisign -G (encrypted) failed"
# A tiny hand-made layout (one config-only image) is enough to sign.
mkdir -p lay-src/blobs/sha256
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >lay-src/oci-layout
cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
printf '%s' "$cfg" >c.json
chex=$(sha256sum c.json | cut -d' ' -f1)
mv c.json "lay-src/blobs/sha256/$chex"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[]}' \
	"$chex" "${#cfg}" >m.json
mhex=$(sha256sum m.json | cut -d' ' -f1)
msize=$(stat -c %s m.json)
mv m.json "lay-src/blobs/sha256/$mhex"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
	"$mhex" "$msize" >lay-src/index.json
printf 'channel: keys\nsources:\n  - oci-layout: lay-src\n    name: library/tiny\n' >spec.yaml
mkdir bundles
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/k.pub" "$T/bundles/ferry-keys-000001.tar"
expect_exit 0 minisign -V -p "$T/k.pub" -m "$T/bundles/ferry-keys-000001.tar"
ok "a bundle signed with the keygen key verifies with ferry and stock minisign"

# minisign -G -W leaves the checksum of an unencrypted key zero; ferry takes it.
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/stock.key" --out "$T/bundles" --state "$T/state.db"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/stock.pub" "$T/bundles/ferry-keys-000002.tar"
expect_exit 0 minisign -V -p "$T/stock.pub" -m "$T/bundles/ferry-keys-000002.tar"
ok "a key made by stock 'minisign -G -W' signs ferry bundles"

expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/enc.key" --out "$T/bundles" --state "$T/state.db"
expect_err "is password-protected"
[ ! -e "$T/bundles/ferry-keys-000003.tar" ] || fail "export with an encrypted key wrote a bundle"
ok "an encrypted stock-minisign key is refused by name (exit 1), no bundle written"

expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.pub" --out "$T/bundles" --state "$T/state.db"
expect_err "does not hold a key of the expected kind"
ok "a public key given as --key is refused (exit 1)"

# ---- help and usage --------------------------------------------------------
expect_exit 0 "$FERRY" keygen --help
expect_out "usage: ferry keygen -o PREFIX [--force]"
expect_exit 0 "$FERRY" keygen -h
expect_out "mode 0600"
ok "keygen --help / -h exit 0 and print the usage"

expect_exit 64 "$FERRY" keygen
expect_err "keygen needs -o PREFIX"
expect_err "usage: ferry keygen"
expect_exit 64 "$FERRY" keygen -o "$T/x" extra
expect_err "keygen needs -o PREFIX and nothing else"
expect_exit 64 "$FERRY" keygen --bogus -o "$T/x"
expect_err "bad option"
expect_exit 64 "$FERRY" keygen -o
[ ! -e "$T/x.key" ] && [ ! -e "$T/x.pub" ] || fail "a usage error still wrote keys"
ok "bad keygen usage exits 64 and writes nothing"

expect_exit 1 "$FERRY" keygen -o "$T/no/such/dir/k"
expect_err "no/such/dir/k.key"
ok "keygen into a missing directory fails (exit 1) naming the path"

expect_exit 64 "$FERRY" no-such-command
expect_err "'no-such-command' is not a ferry command"
expect_exit 64 "$FERRY"
expect_exit 0 "$FERRY" --help
expect_out "keygen"
ok "ferry with an unknown or no command exits 64; --help exits 0"
