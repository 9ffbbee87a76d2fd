#!/usr/bin/env bash
# Install what ferry needs to build, run and test on Debian 12. Does
# nothing when everything is already installed; uses sudo when not root.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config clang libclang-rt-14-dev
	libgit2-dev libarchive-dev libcurl4-openssl-dev libssl-dev libsodium-dev
	libsqlite3-dev libcmocka-dev libjansson-dev libyaml-dev
	libmicrohttpd-dev libzstd-dev zlib1g-dev libcrypt-dev
	# real components the tests and the demo talk to
	docker-registry skopeo umoci busybox-static minisign git lighttpd apache2-utils
	# test and benchmark tools
	curl jq openssl faketime time ca-certificates python3 bc wrk sqlite3 argon2 inotify-tools
	strace
	# manual pages, the Debian package and its checks (systemd-analyze)
	pandoc dpkg-dev lintian systemd
	# the reconciler's real target: rootful podman (kube play)
	podman runc crun catatonit containernetworking-plugins iptables
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
# kubectl (for `kubectl kustomize` and the kubernetes target): Debian's
# kubernetes-client, unless a kubectl from another package is installed
# (the two packages both own /usr/bin/kubectl).
command -v kubectl >/dev/null 2>&1 ||
	dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q "install ok installed" ||
	missing+=(kubernetes-client)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
