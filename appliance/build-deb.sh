#!/usr/bin/env bash
# Build the Debian package of ferry from a build tree:
#   appliance/build-deb.sh BUILD_DIR OUT_DIR
# Stages `cmake --install BUILD_DIR --prefix /usr` (the binary, stripped;
# manual pages, units, configuration, documentation), adds the package's
# own files from appliance/debian/, computes Depends with dpkg-shlibdeps
# from the libraries the binary links, writes DEBIAN/control with
# dpkg-gencontrol, and builds OUT_DIR/ferry_VERSION_ARCH.deb with dpkg-deb.
# It only reads BUILD_DIR (build it first, with pandoc installed for the
# manual pages). The version is CMakeLists.txt's project VERSION, which
# appliance/debian/changelog's first entry must carry. Prints the .deb's
# path.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OUT_DIR" >&2; exit 64; }
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
die() { echo "build-deb: $*" >&2; exit 1; }

for tool in cmake dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-parsechangelog; do
	command -v "$tool" >/dev/null || die "needs $tool (apt-get install dpkg-dev cmake)"
done
[ -f "$build/CMakeCache.txt" ] || die "'$build' is not a CMake build tree"
[ -x "$build/cli/ferry" ] || die "'$build/cli/ferry' is not built"
ls "$build"/appliance/man/*.1.gz >/dev/null 2>&1 ||
	die "no manual pages in '$build/appliance/man' (install pandoc, then build again)"

version=$(sed -n 's/^project(ferry VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || die "no project VERSION in CMakeLists.txt"
logged=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
[ "$logged" = "$version" ] ||
	die "appliance/debian/changelog's first entry is $logged, CMakeLists.txt says $version: add an entry"
arch=$(dpkg --print-architecture)

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-deb.XXXXXX")
trap '[ -n "${FERRY_DEB_KEEP:-}" ] || rm -rf "$work"' EXIT
root=$work/src/debian/ferry   # where dpkg-shlibdeps expects the package
doc=$root/usr/share/doc/ferry

DESTDIR=$root cmake --install "$build" --prefix /usr >"$work/install.log" ||
	{ cat "$work/install.log" >&2; die "cmake --install failed"; }
[ -x "$root/usr/bin/ferry" ] || die "the install put no usr/bin/ferry"
# Stripped as dh_strip does (debug symbols and the .comment and .note
# sections go).
strip --remove-section=.comment --remove-section=.note "$root/usr/bin/ferry"

# Directories that postinst hands to the user ferry.
install -d -m 0755 "$root/var/lib/ferry" "$root/var/lib/ferry-inbox" "$root/var/log/ferry" "$root/var/spool/ferry"
# Debian's documentation conventions: copyright, a compressed changelog,
# large text compressed.
install -m 0644 "$here/debian/copyright" "$doc/copyright"
gzip -9n -c "$here/debian/changelog" >"$doc/changelog.gz"
find "$doc" -name '*.md' -size +4k -exec gzip -9n {} +
install -D -m 0644 "$here/debian/lintian-overrides" "$root/usr/share/lintian/overrides/ferry"

install -d -m 0755 "$root/DEBIAN"
for script in postinst prerm postrm; do
	install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
(cd "$root" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

# dpkg-shlibdeps and dpkg-gencontrol work in a source tree's debian/.
cp "$here/debian/control" "$here/debian/changelog" "$work/src/debian/"
(
	cd "$work/src"
	dpkg-shlibdeps -Tdebian/ferry.substvars -edebian/ferry/usr/bin/ferry
	dpkg-gencontrol -pferry -Tdebian/ferry.substvars -P"$root" -v"$version" -fdebian/files
) 2>"$work/control.log" || { cat "$work/control.log" >&2; die "cannot write the control file"; }
cat "$work/control.log" >&2

deb=$out/ferry_${version}_${arch}.deb
find "$root" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
