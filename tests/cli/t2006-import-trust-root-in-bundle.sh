#!/usr/bin/env bash
# A new trust root travels inside a bundle: the bundle is signed under the
# current root, its root is checked (version + 1, threshold of the current
# keys and of its own) before anything is published, and installed once the
# bundle is recorded; later bundles are judged by it. A bundle carrying a
# root that fails those checks is rejected whole.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq umoci
. "$SRC/tests/lib/oci-fixture.sh"

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
for k in a b; do "$FERRY" keygen -o "$T/$k" >/dev/null; done
"$FERRY" trust init --store "$T/store" --key "$T/a.pub" >/dev/null
mkdir "$T/bundles"
spec() { # CHANNEL [TRUST-ROOT]
	{
		printf 'channel: %s\n' "$1"
		[ -z "${2:-}" ] || printf 'trust-root: %s\n' "$2"
		printf 'sources:\n  - oci-layout: layout\n    name: library/%s\n' "$1"
	} >"$T/$1.yaml"
}
ex() { local ch=$1; shift; "$FERRY" export -q --spec "$T/$ch.yaml" "$@" --out "$T/bundles" --state "$T/state.db" >/dev/null; }

# A root v2 signed only by its own key b: not acceptable to a store trusting a.
expect_exit 0 "$FERRY" trust create -o "$T/bad-root.json" --version 2 --key "$T/b.pub" --sign "$T/b.key"
spec bad bad-root.json
ex bad --key "$T/a.key" || fail "export with a trust root failed"
expect_exit 0 "$FERRY" inspect --json "$T/bundles/ferry-bad-000001.tar"
jq -e '.members | map(.path) | index("ferry-trust-root.dsse.json") != null' "$T/out" >/dev/null ||
	fail "the trust root is not a member of the bundle"
expect_exit 2 "$FERRY" import --store "$T/store" "$T/bundles/ferry-bad-000001.tar"
expect_err "carries a trust root that cannot be installed"
expect_err "not signed by the current keys"
expect_exit 0 "$FERRY" store ls --store "$T/store" --json
[ "$(jq '.images | length' "$T/out")" = 0 ] || fail "the rejected bundle published images"
ok "a bundle carrying a root not signed by the current keys is rejected whole"

# Root v2 = {b}, signed by a (current) and b (its own).
expect_exit 0 "$FERRY" trust create -o "$T/root2.json" --version 2 --key "$T/b.pub" --sign "$T/a.key" --sign "$T/b.key"
spec rot root2.json
ex rot --key "$T/a.key" || fail "export failed"
spec other
ex other --key "$T/a.key" || fail "export failed"
expect_exit 2 "$FERRY" import --store "$T/store" "$T/bundles/ferry-rot-000001.tar" "$T/bundles/ferry-other-000001.tar"
expect_err "a bundle that carries a trust root must be imported on its own"
ok "a bundle carrying a trust root is refused together with others"
expect_exit 0 "$FERRY" import --store "$T/store" "$T/bundles/ferry-rot-000001.tar"
expect_exit 0 "$FERRY" trust show --store "$T/store" --json
[ "$(jq -r .version "$T/out")" = 2 ] || fail "root not rotated: $(cat "$T/out")"
[ "$(jq -r '.keys[0]' "$T/out")" = "$(sed -n 's/^untrusted comment: minisign public key //p' "$T/b.pub")" ] ||
	fail "root v2 does not hold key b"
ok "a bundle signed under root v1 installs the root v2 it carries"

spec after
ex after --key "$T/a.key" || fail "export failed"
expect_exit 2 "$FERRY" import --store "$T/store" "$T/bundles/ferry-after-000001.tar"
expect_err "signature threshold 1 not met"
spec after2
ex after2 --key "$T/b.key" || fail "export failed"
expect_exit 0 "$FERRY" import --store "$T/store" "$T/bundles/ferry-after2-000001.tar"
ok "after the rotation, key a's bundles are rejected and key b's import"
