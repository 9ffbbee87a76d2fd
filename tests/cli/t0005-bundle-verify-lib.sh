#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# libferry-bundle as an outside program uses it: examples/verify-min.c,
# written against include/ferry/bundle.h alone, verifies the golden bundle
# (exit 0) and refuses a tampered copy, a wrong key and a missing file
# (exit 2, 2, 1, naming the problem); it needs neither libcurl nor libgit2
# (its NEEDED entries and everything ldd loads are printed and checked);
# and `cmake --install --component dev` lays out the archive, the public
# headers and ferry-bundle.pc, with which the example builds and runs.
need readelf ldd pkg-config
MIN=${FERRY_VERIFY_MIN:-$FERRY_BUILD_DIR/examples/ferry-verify-min}
[ -x "$MIN" ] || fail "ferry-verify-min not found at $MIN"
G=$SRC/tests/resources/v1
B=$G/ferry-golden-000001.tar
id=$(sed -n 's/.*public key \([0-9A-F]*\)$/\1/p' "$G/golden.pub")

# ---- verdicts ----------------------------------------------------------------------
expect_exit 0 "$MIN" "$B" "$G/golden.pub"
expect_out "$B: OK bundle"
expect_out "channel golden sequence 1 volume 1 of 1"
expect_out "signed by $id"
ok "the golden bundle verifies with the public call (exit 0)"

cp "$B" "$T/tampered.tar"
off=$(data_offset "$T/tampered.tar" index.json)
flip_byte "$T/tampered.tar" $((off + 3))
expect_exit 2 "$MIN" "$T/tampered.tar" "$G/golden.pub"
expect_err "FAILED:"
expect_err "member 'index.json' does not match its digest"
expect_err "$T/tampered.tar"
ok "a tampered copy: exit 2, the member and the file named"

"$FERRY" keygen -o "$T/other" >/dev/null
expect_exit 2 "$MIN" "$B" "$T/other.pub"
expect_err "signature threshold 1 not met"
expect_exit 2 "$MIN" -t 2 "$B" "$G/golden.pub" "$T/other.pub"
expect_err "signature threshold 2 not met"
ok "an untrusted key, an unmet threshold: exit 2"

expect_exit 1 "$MIN" "$T/none.tar" "$G/golden.pub"
expect_err "cannot open '$T/none.tar'"
expect_exit 64 "$MIN" "$B"
expect_err "usage:"
ok "a missing file: exit 1; no key: usage, exit 64"

# ---- no network or git code --------------------------------------------------------
needed=$(readelf -d "$MIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED of ferry-verify-min:"
printf '  %s\n' $needed
[ -n "$needed" ] || fail "readelf found no NEEDED entries"
if printf '%s\n' $needed | grep -E 'libcurl|libgit2'; then
	fail "ferry-verify-min needs libcurl or libgit2"
fi
echo "ldd of ferry-verify-min:"
ldd "$MIN" | sed 's/^/ /'
if ldd "$MIN" | grep -E 'libcurl|libgit2'; then
	fail "ferry-verify-min loads libcurl or libgit2"
fi
# The check can fail: the ferry command itself needs both.
readelf -d "$FERRY" | grep -q 'NEEDED.*libcurl' || fail "ferry needs no libcurl? check the check"
readelf -d "$FERRY" | grep -q 'NEEDED.*libgit2' || fail "ferry needs no libgit2? check the check"
ok "ferry-verify-min needs neither libcurl nor libgit2 (ferry needs both)"

# ---- installed: archive, headers, pkg-config ---------------------------------------
cache=$FERRY_BUILD_DIR/CMakeCache.txt
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$cache")
san=$(sed -n 's/^FERRY_SANITIZE:[A-Z]*=//p' "$cache")
cmake --install "$FERRY_BUILD_DIR" --component dev --prefix "$T/prefix" >"$T/install.log" ||
	{ cat "$T/install.log" >&2; fail "cmake --install --component dev"; }
pc=$(find "$T/prefix" -name ferry-bundle.pc)
[ -n "$pc" ] || fail "no ferry-bundle.pc installed"
[ -f "$T/prefix/include/ferry/bundle.h" ] && [ -f "$T/prefix/include/ferry/errors.h" ] ||
	fail "public headers not installed"
[ -f "$(dirname "$(dirname "$pc")")/libferry-bundle.a" ] || fail "libferry-bundle.a not beside the .pc"
[ -z "$(find "$T/prefix" -name 'ferry' -type f)" ] || fail "the dev component installs the ferry command"
export PKG_CONFIG_PATH=$(dirname "$pc")
[ "$(pkg-config --modversion ferry-bundle)" = "$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$cache")" ] ||
	fail "ferry-bundle.pc has the wrong version"
# shellcheck disable=SC2046
"$cc" ${san:+-fsanitize=$san} -std=c11 -Wall -Werror -o "$T/verify-min" \
	"$SRC/examples/verify-min.c" $(pkg-config --cflags --libs ferry-bundle) ||
	fail "the example does not build against the installed library"
expect_exit 0 "$T/verify-min" "$B" "$G/golden.pub"
expect_out "OK bundle"
expect_exit 2 "$T/verify-min" "$T/tampered.tar" "$G/golden.pub"
ok "installed with --component dev: archive, headers, ferry-bundle.pc; the example builds from them and verifies"
