#!/usr/bin/env bash
# Download the packages the ferry package needs on a minimal Debian 12
# host into a directory, for `ferry kit build --deps DIR`:
#   appliance/kit-deps.sh DEB OUT_DIR [BASE_STATUS]
# apt resolves DEB's dependencies, recursively, against the dpkg status of
# a minimal Debian 12 system, and `apt-get download` fetches every package
# that system lacks, from this host's apt sources (which must be Debian
# 12's, for DEB's architecture). BASE_STATUS is that system's
# /var/lib/dpkg/status (for example from `debootstrap --variant=minbase
# bookworm`); without it, the base is taken from this host's own status:
# the packages of Priority required, the essential ones, and apt with what
# it depends on, which is what debootstrap's minbase installs. Prints the
# packages downloaded.
set -euo pipefail

[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 DEB OUT_DIR [BASE_STATUS]" >&2; exit 64; }
die() { echo "kit-deps: $*" >&2; exit 1; }
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -f "$deb" ] || die "no package '$1'"
mkdir -p "$2"
out=$(cd "$2" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-kit-deps.XXXXXX")
trap '[ -n "${FERRY_KIT_KEEP:-}" ] || rm -rf "$work"' EXIT

if [ $# -eq 3 ]; then
	cp "$3" "$work/status"
else
	# The packages of Priority required, the essential ones and apt, and
	# everything they depend on, as installed here.
	awk 'BEGIN { RS = "" } /\nStatus: install ok installed/ &&
		(/\nPriority: required/ || /\nEssential: yes/) { sub(/^Package: /, ""); sub(/\n.*/, ""); print }' \
		/var/lib/dpkg/status >"$work/roots"
	echo apt >>"$work/roots"
	xargs -a "$work/roots" apt-cache depends --recurse --installed --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances 2>/dev/null |
		sed -n 's/^<\{0,1\}\([a-z0-9][^ >]*\)>\{0,1\}$/\1/p' | sed 's/:.*//' | sort -u >"$work/base"
	awk -v keep="$work/base" '
		BEGIN { while ((getline l < keep) > 0) want[l] = 1; RS = ""; ORS = "\n\n" }
		/\nStatus: install ok installed/ { p = $0; sub(/^Package: /, "", p); sub(/\n.*/, "", p); if (p in want) print }' \
		/var/lib/dpkg/status >"$work/status"
fi
grep -q '^Package: ' "$work/status" || die "the base status lists no package"

# apt's solver against the base: the packages it would fetch to install
# DEB. A package of the base whose own dependencies are not in the base
# (this host's alternatives: usrmerge rather than usr-is-merged) is not
# part of it: apt names it, it leaves the base, and apt tries again.
mkdir -p "$work/archives/partial"
for _ in 1 2 3 4 5 6 7 8; do
	if apt-get -q -o Dir::State::status="$work/status" -o Dir::Cache::archives="$work/archives" \
		-o Debug::NoLocking=1 -o APT::Install-Recommends=false \
		install --print-uris -y "$deb" >"$work/uris" 2>"$work/apt.err"; then
		resolved=1
		break
	fi
	sed -n 's/^ \([a-z0-9][a-z0-9+.-]*\) : .*/\1/p' "$work/uris" | sort -u >"$work/broken"
	[ -s "$work/broken" ] || break
	awk -v drop="$work/broken" '
		BEGIN { while ((getline l < drop) > 0) out[l] = 1; RS = ""; ORS = "\n\n" }
		{ p = $0; sub(/^Package: /, "", p); sub(/\n.*/, "", p); if (!(p in out)) print }' \
		"$work/status" >"$work/status.new"
	mv "$work/status.new" "$work/status"
done
[ -n "${resolved:-}" ] ||
	{ cat "$work/uris" "$work/apt.err" >&2; die "apt cannot resolve the dependencies of $(basename "$deb")"; }
# 'URI' NAME_VERSION_ARCH.deb SIZE HASH
self=$(dpkg-deb -f "$deb" Package)
sed -n "s/^'[^']*' \([^ ]*\)\.deb .*/\1/p" "$work/uris" | while IFS=_ read -r name version arch; do
	[ "$name" != "$self" ] || continue
	version=$(printf '%s' "$version" | sed 's/%3a/:/gI')
	printf '%s=%s\n' "$name" "$version"
done >"$work/wanted"
[ -s "$work/wanted" ] || { echo "kit-deps: nothing to download: the base has every dependency" >&2; exit 0; }
(cd "$out" && xargs -a "$work/wanted" apt-get -q download) >"$work/download.log" 2>&1 ||
	{ cat "$work/download.log" >&2; die "apt-get download failed"; }
cat "$work/wanted"
