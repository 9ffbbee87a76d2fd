#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Hostile registries (tests/tools/evil-registry.c on 127.0.0.1): wrong
# digests, a lying Docker-Content-Digest, an oversized manifest, an endless
# blob body, a blob with the wrong bytes, a redirect to another host,
# malformed JSON and an unknown media type are each rejected with a message
# naming the image and the problem, and no bundle is written. A Bearer
# token flow works, and a blob that breaks off half way is resumed with
# Range.
EVIL=${FERRY_EVIL_REGISTRY:-$SRC/build/tests/evil-registry}
[ -x "$EVIL" ] || skip_all "no evil-registry at $EVIL"
need jq

"$EVIL" >"$T/port" 2>"$T/evil.log" &
EPID=$!
at_exit "kill $EPID; wait $EPID"
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
P=$(cat "$T/port")
[ -n "$P" ] || fail "evil-registry did not start"
H=127.0.0.1:$P
ok "evil registry on $H"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
n=0
ex() { local want=$1 ref=$2
	n=$((n + 1))
	printf 'channel: c%s\nsources:\n  - image: %s\n    insecure: true\n' "$n" "$ref" >"$T/s$n.yaml"
	expect_exit "$want" "$FERRY" export -q --spec "$T/s$n.yaml" --key "$T/key.key" \
		--out "$T/bundles" --state "$T/state.db" --cache "$T/cache$n"
	if [ "$want" != 0 ] && ls "$T/bundles" | grep -q "ferry-c$n-"; then fail "a failed export wrote a bundle"; fi
}
Z=sha256:2222222222222222222222222222222222222222222222222222222222222222

ex 0 "$H/good:v1"
[ -n "$(ls "$T/cache$n/oci/blobs/sha256/")" ] || fail "no blob in the cache at <cache>/oci/blobs/sha256/"
ok "a well-behaved image exports"

ex 1 "$H/wrongdigest@$Z"
expect_err "image '$H/wrongdigest@$Z': manifest $Z came back with digest sha256:"
expect_err "(wrong digest)"
ok "a manifest whose bytes do not match the digest asked for"

ex 1 "$H/badheader:v1"
expect_err "image '$H/badheader:v1': manifest 'v1' has digest sha256:"
expect_err "but the registry says sha256:1111111111111111111111111111111111111111111111111111111111111111 (wrong digest)"
ok "a manifest whose Docker-Content-Digest lies"

ex 1 "$H/bigmanifest:v1"
expect_err "image '$H/bigmanifest:v1': manifest 'v1' is larger than 4194304 bytes (oversized manifest)"
ok "an oversized manifest"

ex 1 "$H/endless:v1"
expect_err "image '$H/endless:v1': blob sha256:"
expect_err "the registry sent more than the 262144 bytes its descriptor gives (body too long)"
ok "an endless blob body is cut off at its descriptor's size"

ex 1 "$H/badblob:v1"
expect_err "image '$H/badblob:v1': blob sha256:"
expect_err "(wrong digest)"
ls "$T/cache$n/oci/blobs/sha256/" | grep -q partial && fail "a corrupt partial file was kept"
ok "a blob with the wrong bytes (no file is kept under any name)"

ex 1 "$H/redirect:v1"
expect_err "image '$H/redirect:v1': registry host '$H' redirected to another host 'localhost:$P' (refused)"
ok "a redirect to another host is refused, naming both hosts"

ex 1 "$H/malformed:v1"
expect_err "image '$H/malformed:v1': manifest 'v1' is not valid JSON"
ok "malformed JSON"

ex 1 "$H/unknowntype:v1"
expect_err "image '$H/unknowntype:v1': manifest 'v1' has unknown media type 'application/vnd.example.thing+json'"
ok "an unknown media type"

ex 0 "$H/token:v1"
grep -q "GET /token range=-" "$T/evil.log" || fail "no token request"
ok "a Bearer challenge is answered with a token from the realm"

ex 0 "$H/flaky:v1"
grep -q "range=bytes=131072-" "$T/evil.log" || { cat "$T/evil.log" >&2; fail "the broken blob was not resumed with Range"; }
ok "a blob that breaks off half way is resumed with Range and verified"
