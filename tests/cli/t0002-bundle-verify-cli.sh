#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# ferry verify's verdicts and exit codes: wrong key and unmet thresholds
# (exit 2, "threshold"; a key counts once however often it is given),
# threshold larger than the keys given (64), truncated bundles, appended
# garbage, bytes changed in the signed envelope or in a blob (each exit 2
# naming the problem), --json reports, missing files and key files (1),
# and expiry (exit 2 "expired", while inspect still shows the bundle).
need jq umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"

set_byte() { # FILE OFFSET CHAR
	printf '%s' "$3" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
"$FERRY" keygen -o "$T/k1" >/dev/null
"$FERRY" keygen -o "$T/k2" >/dev/null
"$FERRY" keygen -o "$T/k3" >/dev/null
id1=$(sed -n 's/.*public key \([0-9A-F]*\)$/\1/p' "$T/k1.pub")
printf 'channel: demo\nexpires: 7d\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/spec.yaml"
mkdir "$T/b1" "$T/b12"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k1.key" --out "$T/b1" --state "$T/s1.db"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k1.key" --key "$T/k2.key" --out "$T/b12" --state "$T/s12.db"
B=$T/b1/ferry-demo-000001.tar     # signed by k1
B12=$T/b12/ferry-demo-000001.tar  # signed by k1 and k2
SIZE=$(stat -c %s "$B")

expect_exit 0 "$FERRY" verify --trust-key "$T/k1.pub" "$B"
expect_out "$B: OK channel demo sequence 1, signed by $id1"
ok "baseline: the bundle verifies against its key (exit 0)"

# ---- keys and thresholds -----------------------------------------------------------
expect_exit 2 "$FERRY" verify --trust-key "$T/k2.pub" "$B"
expect_err "signature threshold 1 not met: 0 of 1 signature(s) are from trusted keys"
expect_out "$B: FAILED: signature threshold 1 not met"
ok "wrong key: exit 2, 'signature threshold 1 not met'"

expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" --trust-key "$T/k2.pub" --threshold 2 "$B"
expect_err "signature threshold 2 not met: 1 of 1 signature(s) are from trusted keys"
ok "two trusted keys, --threshold 2, only one signed: exit 2, threshold named"

expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" --trust-key "$T/k1.pub" --threshold 2 "$B"
expect_err "signature threshold 2 not met"
ok "the same key given twice does not count twice: exit 2"

expect_exit 0 "$FERRY" verify --trust-key "$T/k1.pub" --trust-key "$T/k2.pub" --threshold 2 "$B12"
expect_out "signed by"
expect_exit 0 "$FERRY" verify --trust-key "$T/k2.pub" "$B12"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" --trust-key "$T/k3.pub" --threshold 2 "$B12"
expect_err "signature threshold 2 not met: 1 of 2 signature(s) are from trusted keys"
ok "a bundle signed by k1+k2 meets --threshold 2 with k1,k2 but not with k1,k3"

expect_exit 64 "$FERRY" verify --trust-key "$T/k1.pub" --trust-key "$T/k2.pub" --threshold 3 "$B"
expect_err "threshold 3 is more than the 2 key(s) given"
expect_exit 64 "$FERRY" verify --trust-key "$T/k1.pub" --threshold 2 "$B"
expect_err "threshold 2 is more than the 1 key(s) given"
for bad in 0 -1 x 1.5 ''; do
	expect_exit 64 "$FERRY" verify --trust-key "$T/k1.pub" --threshold "$bad" "$B"
	expect_err "invalid --threshold '$bad'"
done
ok "--threshold above the number of keys, or malformed: exit 64"

expect_exit 64 "$FERRY" verify "$B"
expect_err "verify needs --trust-key and a bundle"
expect_exit 64 "$FERRY" verify --trust-key "$T/k1.pub"
expect_err "verify needs --trust-key and a bundle"
expect_exit 64 "$FERRY" verify --trust-key "$T/k1.pub" --bogus "$B"
expect_err "bad option"
ok "verify without a key, without a bundle, or with an unknown option: exit 64"

# ---- damaged files -------------------------------------------------------------------
# damaged NAME: a fresh copy of the good bundle at $T/NAME.tar
damaged() { cp "$B" "$T/$1.tar"; echo "$T/$1.tar"; }

f=$(damaged truncated)
truncate -s $((SIZE / 2)) "$f"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
expect_err "'$f': bundle is truncated in member 'blobs/sha256/"
f=$(damaged truncated-in-envelope)
truncate -s 1536 "$f"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
expect_err "signed manifest is truncated"
f=$(damaged empty)
truncate -s 0 "$f"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
expect_err "is not a tar archive"
# Cut at a member boundary: the last member is missing entirely.
last=$(tar -tf "$B" | tail -n1)
f=$(damaged truncated-at-member)
truncate -s $(($(data_offset "$B" "$last") - 512)) "$f"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
expect_err "missing member '$last'"
ok "truncated bundles (mid-blob, mid-envelope, empty, a member short): exit 2, named"

f=$(damaged garbage)
printf 'garbage after the archive\n' >>"$f"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
expect_err "unexpected bytes after the end of the archive (offset $SIZE)"
f=$(damaged garbage-blocks)
head -c 8192 /dev/urandom >>"$f"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
expect_err "unexpected bytes after the end of the archive"
ok "appended garbage (text, random blocks): exit 2, 'unexpected bytes after the end of the archive'"

# Zero blocks after the end-of-archive marker are tar padding, allowed by design.
f=$(damaged zero-padded)
head -c 10240 /dev/zero >>"$f"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/k1.pub" "$f"
ok "trailing zero blocks (tar padding) are accepted"

# The envelope (the first member's data, from byte 512 of the file).
[ "$(tar -tf "$B" | head -n1)" = ferry-manifest.dsse.json ] || fail "first member is not the envelope"
esize=$(tar -tvf "$B" | awk 'NR == 1 { print $3 }')
[ "$esize" -gt 800 ] || fail "the envelope is only $esize bytes"
for off in 512 513 600 $((512 + esize / 3)) $((512 + esize / 2)) $((512 + esize - 1)); do
	f=$(damaged env-flip-$off)
	flip_byte "$f" "$off"
	expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
	expect_err "'$f': envelope is not valid JSON"
done
ok "a flipped byte anywhere in the envelope: exit 2, 'envelope is not valid JSON'"

# A subtler change: one base64 character of the signed payload replaced by
# another, so the JSON stays valid and only the signature can notice.
for off in 600 $((512 + esize / 3)) $((512 + esize / 2)); do
	f=$(damaged env-b64-$off)
	c=$(dd if="$f" bs=1 skip="$off" count=1 status=none)
	case $c in [A-Za-z0-9+/]) ;; *) fail "byte $off of the envelope is '$c', not base64" ;; esac
	[ "$c" = A ] && set_byte "$f" "$off" B || set_byte "$f" "$off" A
	expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
	expect_err "signature from key $id1 does not verify"
done
ok "one base64 character of the payload changed: exit 2, 'signature from key $id1 does not verify'"

# A byte inside a blob's data.
blob=$(tar -tvf "$B" | sort -k3,3n | tail -n1 | awk '{print $NF}')
bsize=$(tar -tvf "$B" | sort -k3,3n | tail -n1 | awk '{print $3}')
f=$(damaged blob-flip)
flip_byte "$f" $(($(data_offset "$B" "$blob") + bsize / 2))
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
expect_err "member '$blob' does not match its digest (manifest sha256:$(basename "$blob" | head -c 12)..."
expect_out "$f: FAILED: member '$blob' does not match its digest"
ok "a flipped byte in $blob: exit 2, the member named as not matching its digest"

# A tar header changed (its checksum then fails).
f=$(damaged header-flip)
flip_byte "$f" $(($(data_offset "$B" "$blob") - 512 + 20))
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$f"
ok "a flipped byte in a member's tar header: exit 2"

# Not a tar at all.
head -c 20000 /dev/urandom >"$T/random.tar"
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$T/random.tar"
expect_err "is not a tar archive"
ok "random bytes: exit 2, 'is not a tar archive'"

# ---- --json ------------------------------------------------------------------------------
f=$T/env-b64-600.tar
expect_exit 2 "$FERRY" verify --json --trust-key "$T/k1.pub" "$f"
jq -e . "$T/out" >/dev/null || fail "verify --json is not JSON: $(cat "$T/out")"
[ "$(jq -r .ok "$T/out")" = false ] || fail "--json .ok is not false"
[ "$(jq -r '.files | length' "$T/out")" = 1 ] || fail "--json has not one file"
[ "$(jq -r '.files[0].ok' "$T/out")" = false ] || fail "--json .files[0].ok is not false"
[ "$(jq -r '.files[0].path' "$T/out")" = "$f" ] || fail "--json .files[0].path"
jq -r '.files[0].error' "$T/out" | grep -qF "signature from key $id1 does not verify" ||
	fail "--json error: $(jq -r '.files[0].error' "$T/out")"
[ "$(jq -c '.files[0].verifiedSigners' "$T/out")" = "[]" ] || fail "--json verifiedSigners not empty"
ok "verify --json on a bad bundle: .ok false, .files[0].error names the problem"

expect_exit 2 "$FERRY" verify --json --trust-key "$T/k1.pub" "$B" "$T/blob-flip.tar"
[ "$(jq -r .ok "$T/out")" = false ] || fail "--json .ok with one bad file"
[ "$(jq -r '[.files[].ok] | join(",")' "$T/out")" = true,false ] || fail "--json per-file ok"
jq -r '.files[1].error' "$T/out" | grep -qF "member '$blob' does not match its digest" || fail "--json blob error"
ok "verify --json with a good and a bad bundle: exit 2, per-file verdicts"

expect_exit 0 "$FERRY" verify --json --trust-key "$T/k1.pub" "$B"
[ "$(jq -r '.ok, .files[0].ok' "$T/out" | tr '\n' ' ')" = "true true " ] || fail "--json ok for a good bundle"
[ "$(jq -c '.files[0].verifiedSigners' "$T/out")" = "[\"$id1\"]" ] || fail "--json verifiedSigners"
[ "$(jq -r '.files[0].bytes' "$T/out")" = "$SIZE" ] || fail "--json bytes"
ok "verify --json on a good bundle: .ok true, the signer listed"

# ---- missing files -----------------------------------------------------------------------
expect_exit 1 "$FERRY" verify --trust-key "$T/k1.pub" "$T/no-such-bundle.tar"
expect_err "cannot open '$T/no-such-bundle.tar'"
expect_exit 1 "$FERRY" verify --trust-key "$T/no-such.pub" "$B"
expect_err "cannot open '$T/no-such.pub'"
expect_exit 1 "$FERRY" verify --trust-key "$T/k1.key" "$B"
expect_err "does not hold a key of the expected kind"
ok "a missing bundle or trust-key file, or a secret key as trust key: exit 1, named"

# ---- inspect and keys -----------------------------------------------------------------------
expect_exit 0 "$FERRY" inspect --trust-key "$T/k1.pub" "$B"
expect_out "$id1 (verified)"
expect_exit 2 "$FERRY" inspect --trust-key "$T/k2.pub" "$B"
expect_err "signature threshold 1 not met"
expect_exit 0 "$FERRY" inspect "$B"
expect_out "$id1 (not checked)"
ok "inspect checks signatures only with --trust-key (wrong key: exit 2)"

# ---- expiry -----------------------------------------------------------------------------------
printf 'channel: short\nexpires: 1s\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/short.yaml"
mkdir "$T/short"
expect_exit 0 "$FERRY" export -q --spec "$T/short.yaml" --key "$T/k1.key" --out "$T/short" --state "$T/s1.db"
E=$T/short/ferry-short-000001.tar
sleep 2
expires=$("$FERRY" inspect --json "$E" | jq -r .expires)
expect_exit 2 "$FERRY" verify --trust-key "$T/k1.pub" "$E"
expect_err "bundle expired at $expires"
expect_out "$E: FAILED: bundle expired at $expires"
expect_exit 0 "$FERRY" inspect "$E"
expect_out "expires   $expires"
ok "a bundle with 'expires: 1s', 2 s later: verify exit 2 'bundle expired at $expires'; inspect still shows it"

# A 7-day bundle, verified as if 8 days later (only with faketime).
if command -v faketime >/dev/null 2>&1; then
	expect_exit 0 faketime_run '+6d' "$FERRY" verify -q --trust-key "$T/k1.pub" "$B"
	expect_exit 2 faketime_run '+8d' "$FERRY" verify -q --trust-key "$T/k1.pub" "$B"
	expect_err "bundle expired at"
	ok "a 7d bundle verifies 6 days on and is expired (exit 2) 8 days on (faketime)"
fi
