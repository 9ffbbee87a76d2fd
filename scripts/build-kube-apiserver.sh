#!/usr/bin/env bash
# Build kube-apiserver from the source of Debian 12's `kubernetes` package
# (1.20.5+really1.20.2, which carries a vendor/ tree, so no Go module is
# fetched), for the reconciler's kubernetes test against a real API server:
#
#   scripts/build-kube-apiserver.sh [WORKDIR]      # default /var/tmp/ferry-kube
#   FERRY_KUBE_APISERVER=WORKDIR/kube-apiserver ctest -L kube
#
# The deb-src entry lives in a private apt configuration under WORKDIR; the
# system's sources are not touched. Needs golang-go (1.19) and dpkg-dev; the
# test also needs etcd-server. Go builds in GOPATH mode, as Debian's own
# build of the package does (module mode refuses the package's go.mod).
# The compile is niced and runs one package at a time (-p 1; override with
# FERRY_GO_JOBS): on two shared cores it takes well over an hour.
set -euo pipefail
work=${1:-/var/tmp/ferry-kube}
version=1.20.5+really1.20.2-1.1+deb12u1
mkdir -p "$work/lists/partial" "$work/src"
cat >"$work/sources.list" <<'EOF'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
	  -o "Dir::State::Lists=$work/lists")
tree=$work/src/kubernetes
if [ ! -d "$tree/vendor" ]; then
	apt-get "${apt_opts[@]}" update
	(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "kubernetes=$version")
	rm -rf "$tree"
	dpkg-source -x "$work/src/kubernetes_$version.dsc" "$tree"
fi
[ -d "$tree/vendor" ] || { echo "no vendor/ in $tree" >&2; exit 1; }
mkdir -p "$work/gopath/src/k8s.io"
ln -sfn "$tree" "$work/gopath/src/k8s.io/kubernetes"
export GOPATH=$work/gopath GOCACHE=$work/gocache GO111MODULE=off GOFLAGS='' GOPROXY=off CGO_ENABLED=0
v=k8s.io/kubernetes/vendor/k8s.io
cd "$work/gopath/src/k8s.io/kubernetes"
start=$(date +%s)
nice -n 19 go build -p "${FERRY_GO_JOBS:-1}" -o "$work/kube-apiserver" \
	-ldflags "-s -w -X $v/component-base/version.gitVersion=v1.20.2 -X $v/component-base/version.gitMajor=1 -X $v/component-base/version.gitMinor=20" \
	./cmd/kube-apiserver
echo "built $work/kube-apiserver in $(($(date +%s) - start))s"
"$work/kube-apiserver" --version
