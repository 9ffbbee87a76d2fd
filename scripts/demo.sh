#!/usr/bin/env bash
# The main job on the embedded default, end to end on one machine:
# install what is needed, build ferry, make a sample OCI layout (a
# multi-arch image index, a single-arch image and a Helm chart artifact),
# export it as a signed bundle, verify it, show what is inside, check it
# with stock tools (minisign, tar, skopeo), then on the "enclave" side
# install a trust root, import the bundle into a store and list the store.
#   scripts/demo.sh [WORKDIR]      (default: build/demo)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$top/build/demo}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "install dependencies and build"
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build"
ferry=$top/build/cli/ferry

rm -rf "$work"
mkdir -p "$work/out" "$work/tmp"
export TMPDIR=$work/tmp
cd "$work"

step "connected side: a signing key and a sample OCI layout"
"$ferry" keygen -o site-key
"$top/tests/lib/oci-fixture.sh" images/app >/dev/null
echo "layout images/app with tags: $(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | join(", ")' images/app/index.json)"
cat > export.yaml <<'SPEC'
channel: demo
expires: 30d
sources:
  - oci-layout: images/app
    name: library/app
SPEC

step "ferry export"
"$ferry" export --spec export.yaml --key site-key.key --out out --state state/export.db
bundle=$(ls out/*.tar | head -n 1)

step "ferry verify (what the enclave checks before anything is published)"
"$ferry" verify --trust-key site-key.pub "$bundle"

step "ferry inspect"
"$ferry" inspect --trust-key site-key.pub "$bundle"

step "stock tools agree: minisign, tar, skopeo"
minisign -Vm "$bundle" -p site-key.pub
mkdir -p extracted && tar -xf "$bundle" -C extracted
for ref in library/app:v1 library/app:multi library/app:chart; do
	digest=$(skopeo inspect --raw "oci:extracted:$ref" | sha256sum | cut -d' ' -f1)
	echo "skopeo reads oci:extracted:$ref -> sha256:$digest"
done

step "disconnected side: trust root and import into the store"
store=$work/store
"$ferry" trust init --store "$store" --key site-key.pub
"$ferry" import --store "$store" --audit-log "$work/audit.jsonl" "$bundle"
"$ferry" store ls --store "$store"
echo "importing the same bundle again:"
"$ferry" import --store "$store" "$bundle"
echo "audit log:"
cat "$work/audit.jsonl"

step "the store is an OCI layout that stock tools read"
for ref in library/app:v1 library/app:multi; do
	digest=$(skopeo inspect --raw "oci:$store:$ref" | sha256sum | cut -d' ' -f1)
	echo "skopeo reads oci:store:$ref -> sha256:$digest"
done

step "done"
echo "work directory: $work (store: $store)"
