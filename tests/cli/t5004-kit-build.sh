#!/usr/bin/env bash
# ferry kit build lays out the bootstrap kit (debs/ with the package and
# the dependency packages given, trust/, bundles/ with each bundle's
# .minisig, install.sh, README) and a SHA256SUMS of every file signed so
# that stock minisign verifies it with a trust key; sha256sum -c passes.
# A changed file fails sha256sum and install.sh (before apt runs); a
# changed SHA256SUMS fails minisign. A signing key outside the trust keys,
# a directory that is not empty, and a package that is not a .deb are
# refused. The packages here are small stand-ins built with dpkg-deb (the
# real package and its dependencies from apt are the slow test's,
# tests/slow/s0001-kit-enclave.sh).
. "$(dirname "$0")/../lib/test-lib.sh"
need minisign sha256sum dpkg-deb

"$FERRY" keygen -o "$T/site" >/dev/null
"$FERRY" keygen -o "$T/other" >/dev/null
# stand-in packages
standin() {
	mkdir -p "$T/pkg-$1/DEBIAN" "$T/pkg-$1/usr/share/doc/$1"
	printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: stand-in\n' \
		"$1" "$2" >"$T/pkg-$1/DEBIAN/control"
	echo "$1" >"$T/pkg-$1/usr/share/doc/$1/README"
	dpkg-deb --root-owner-group -b "$T/pkg-$1" "$3/$1_$2_all.deb" >/dev/null
}
mkdir -p "$T/deb" "$T/deps"
standin ferry 0.1.0 "$T/deb"
standin libdemo1 1.0 "$T/deps"
standin libdemo2 2.0 "$T/deps"
# a bundle with its signature
mkdir -p "$T/files" "$T/bundles"
echo 'hello' >"$T/files/hello.txt"
printf 'channel: site\nsources:\n  - file: %s\n    name: tools/hello\n    tag: v1\n' "$T/files" >"$T/spec.yaml"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/site.key" --out "$T/bundles" --state "$T/state.db" >/dev/null ||
	fail "export"
bundle=$(ls "$T"/bundles/*.tar)

K=$T/kit
expect_exit 0 "$FERRY" kit build --out "$K" --deb "$T/deb/ferry_0.1.0_all.deb" --deps "$T/deps" \
	--trust "$T/site.pub" --bundle "$bundle" --key "$T/site.key"
expect_out "wrote kit $K: 8 files in SHA256SUMS"
expect_out "2 dependency package(s)"
(cd "$K" && find . -type f | sed 's|^\./||' | sort) >"$T/files.list"
printf '%s\n' README SHA256SUMS SHA256SUMS.minisig "bundles/$(basename "$bundle")" \
	"bundles/$(basename "$bundle").minisig" debs/ferry_0.1.0_all.deb debs/libdemo1_1.0_all.deb \
	debs/libdemo2_2.0_all.deb install.sh trust/site.pub | sort | cmp -s - "$T/files.list" ||
	{ cat "$T/files.list" >&2; fail "the kit's files"; }
[ "$(stat -c %a "$K/install.sh")" = 755 ] || fail "install.sh is not executable"
sh -n "$K/install.sh" || fail "install.sh is not sh"
[ "$(wc -l <"$K/SHA256SUMS")" = 8 ] || fail "SHA256SUMS: $(cat "$K/SHA256SUMS")"
ok "kit layout: debs/ (package and dependencies), trust/, bundles/ with .minisig, install.sh, README, SHA256SUMS of every file"

(cd "$K" && minisign -Vm SHA256SUMS -p trust/site.pub) >"$T/minisign.out" 2>&1 ||
	{ cat "$T/minisign.out" >&2; fail "stock minisign rejects the kit"; }
grep -q 'Trusted comment: ferry kit ferry_0.1.0_all.deb, 8 files' "$T/minisign.out" || fail "trusted comment: $(cat "$T/minisign.out")"
! (cd "$K" && minisign -Vm SHA256SUMS -p "$T/other.pub") >/dev/null 2>&1 || fail "verified with another key"
(cd "$K" && sha256sum --strict -c SHA256SUMS) >/dev/null || fail "sha256sum -c"
minisign -Vm "$K/bundles/$(basename "$bundle")" -p "$T/site.pub" >/dev/null 2>&1 || fail "the bundle's own signature"
ok "stock minisign verifies SHA256SUMS with the trust key (and not with another); sha256sum -c passes"

cp -a "$K" "$T/kit2"
printf 'x' >>"$T/kit2/debs/libdemo1_1.0_all.deb"
! (cd "$T/kit2" && sha256sum --quiet -c SHA256SUMS) >/dev/null 2>&1 || fail "a changed package passes sha256sum"
if [ "$(id -u)" = 0 ]; then
	# install.sh stops at the check, before apt (exit 2).
	expect_exit 2 sh "$T/kit2/install.sh"
	expect_err "the kit does not match SHA256SUMS"
fi
cp -a "$K" "$T/kit3"
sed -i '1s/^./0/' "$T/kit3/SHA256SUMS"
! (cd "$T/kit3" && minisign -Vm SHA256SUMS -p trust/site.pub) >/dev/null 2>&1 || fail "a changed SHA256SUMS passes minisign"
if [ "$(id -u)" = 0 ]; then
	expect_exit 2 sh "$T/kit3/install.sh"
	expect_err "SHA256SUMS is not signed by a key in trust/"
fi
ok "tampering: a changed package fails sha256sum -c, a changed SHA256SUMS fails minisign; install.sh stops before apt"

expect_exit 1 "$FERRY" kit build --out "$T/k4" --deb "$T/deb/ferry_0.1.0_all.deb" --no-deps \
	--trust "$T/site.pub" --key "$T/other.key"
expect_err "is not one of the trust keys"
expect_exit 1 "$FERRY" kit build --out "$K" --deb "$T/deb/ferry_0.1.0_all.deb" --no-deps \
	--trust "$T/site.pub" --key "$T/site.key"
expect_err "is not empty"
expect_exit 1 "$FERRY" kit build --out "$T/k5" --deb "$T/spec.yaml" --no-deps \
	--trust "$T/site.pub" --key "$T/site.key"
expect_err "is not a Debian package"
expect_exit 64 "$FERRY" kit build --out "$T/k6" --deb "$T/deb/ferry_0.1.0_all.deb" \
	--trust "$T/site.pub" --key "$T/site.key"
expect_err "needs one of --deps DIR and --no-deps"
expect_exit 0 "$FERRY" kit build --out "$T/k7" --deb "$T/deb/ferry_0.1.0_all.deb" --no-deps \
	--trust "$T/site.pub" --trust "$T/other.pub" --key "$T/other.key" --json
jq -e '.dependencies == 0 and (.files | length) == 5' "$T/out" >/dev/null || fail "json: $(cat "$T/out")"
(cd "$T/k7" && minisign -Vm SHA256SUMS -p trust/other.pub) >/dev/null 2>&1 || fail "--no-deps kit"
ok "refused: a key outside the trust keys, a non-empty directory, not a .deb, neither --deps nor --no-deps; --no-deps and two trust keys work"
