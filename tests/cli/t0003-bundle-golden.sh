#!/usr/bin/env bash
# Golden bundles: a bundle of every format version, committed in
# tests/resources/vN/, must verify with every later build, and stock tools
# must keep reading it. A damaged copy of it must always fail.
. "$(dirname "$0")/../lib/test-lib.sh"

for dir in "$SRC"/tests/resources/v*/; do
	bundle=$(ls "$dir"/*.tar)
	pub=$dir/golden.pub
	expect_exit 0 "$FERRY" verify --trust-key "$pub" "$bundle"
	expect_out "OK"
	ok "$(basename "$dir"): golden bundle verifies"

	expect_exit 0 "$FERRY" inspect --json "$bundle"
	want=$(cat "$dir"/golden-app-v1.digest)
	got=$(jq -r '.images[] | select(.reference == "golden/app:v1") | .digest' "$T/out")
	[ "$got" = "$want" ] || fail "binding is '$got', expected '$want'"
	ok "$(basename "$dir"): binding golden/app:v1 -> $want"

	if command -v minisign >/dev/null; then
		minisign -qVm "$bundle" -p "$pub" || fail "minisign rejects $bundle"
		ok "$(basename "$dir"): stock minisign accepts the detached signature"
	fi
	mkdir -p "$T/x"
	tar -xf "$bundle" -C "$T/x"
	if command -v skopeo >/dev/null; then
		got=sha256:$(skopeo inspect --raw "oci:$T/x:golden/app:v1" | sha256sum | cut -d' ' -f1)
		[ "$got" = "$want" ] || fail "skopeo reads $got, expected $want"
		ok "$(basename "$dir"): skopeo reads the extracted layout"
	fi

	cp "$bundle" "$T/damaged.tar"
	size=$(stat -c %s "$T/damaged.tar")
	printf '\x01' | dd of="$T/damaged.tar" bs=1 seek=$((size / 2)) conv=notrunc status=none
	expect_exit 2 "$FERRY" verify --trust-key "$pub" "$T/damaged.tar"
	ok "$(basename "$dir"): a damaged copy fails verification"
	rm -rf "$T/x"
done
