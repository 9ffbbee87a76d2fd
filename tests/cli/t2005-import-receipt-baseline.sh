#!/usr/bin/env bash
# Receipts re-base the exporter: a bundle is lost on the way, the enclave
# sends a receipt signed with its own key, and the next export built on it
# carries exactly what the enclave lacks and imports there. A receipt signed
# by another key, or claiming a sequence never sent, is refused.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq umoci
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
"$FERRY" keygen -o "$T/site" >/dev/null
"$FERRY" keygen -o "$T/enclave" >/dev/null
"$FERRY" keygen -o "$T/other" >/dev/null
printf 'channel: c\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/spec.yaml"
mkdir "$T/b"
ex() { "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/site.key" --out "$T/b" --state "$T/state.db" "$@"; }
"$FERRY" trust init --store "$T/store" --key "$T/site.pub" >/dev/null

expect_exit 0 ex
expect_exit 0 "$FERRY" import --store "$T/store" "$T/b/ferry-c-000001.tar"
# sequence 2 carries a new tag and is lost in transit
mkdir -p "$T/layout2" && cp -r "$T/layout/." "$T/layout2/"
printf 'channel: c\nsources:\n  - oci-layout: layout\n    name: library/app\n  - oci-layout: extra\n    name: library/extra\n' >"$T/spec.yaml"
make_oci_layout "$T/extra" 300 >/dev/null 2>&1
expect_exit 0 ex
# without a baseline, sequence 3 would build on the lost sequence 2
expect_exit 0 ex
expect_exit 2 "$FERRY" import --store "$T/store" "$T/b/ferry-c-000003.tar"
expect_err "import the channel's bundles up to sequence 2 first"
ok "a bundle built on a lost one is refused, naming the sequence to import first"

expect_exit 0 "$FERRY" receipt --store "$T/store" --key "$T/enclave.key" -o "$T/receipt.json"
expect_exit 2 ex --baseline "$T/receipt.json" --baseline-key "$T/other.pub"
expect_err "signature threshold 1 not met"
ok "a receipt not signed by the enclave's key is refused"
expect_exit 0 ex --baseline "$T/receipt.json" --baseline-key "$T/enclave.pub" --json
[ "$(jq -r .baseSequence "$T/out")" = 1 ] || fail "re-based bundle builds on $(jq -r .baseSequence "$T/out"), want 1"
expect_exit 0 "$FERRY" import --store "$T/store" "$T/b/ferry-c-000004.tar"
expect_exit 0 "$FERRY" store ls --store "$T/store" --json
jq -e '.images | map(.reference) | index("library/extra:v1") != null' "$T/out" >/dev/null ||
	fail "the re-based bundle did not bring library/extra"
ok "after re-basing on the receipt, the next bundle carries what the enclave lacks and imports"

jq -c '.payload' "$T/receipt.json" >/dev/null
"$FERRY" trust init --store "$T/store2" --key "$T/site.pub" >/dev/null
expect_exit 0 "$FERRY" import --store "$T/store2" "$T/b/ferry-c-000001.tar"
expect_exit 0 "$FERRY" receipt --store "$T/store2" --key "$T/enclave.key" -o "$T/r2.json"
expect_exit 64 ex --baseline "$T/r2.json"
ok "--baseline without --baseline-key is a usage error"

expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/site.key" --out "$T/b" \
	--state "$T/fresh-state.db" --baseline "$T/r2.json" --baseline-key "$T/enclave.pub"
expect_err "holds sequence 1 of channel 'c', but this exporter sent only 0"
ok "a receipt claiming a sequence this exporter never sent is refused"
