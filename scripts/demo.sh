#!/usr/bin/env bash
# The main job on the embedded default, end to end on one machine:
# install what is needed, build ferry, make a sample OCI layout (a
# multi-arch image index, a single-arch image and a Helm chart artifact) and
# a git repository of deployment manifests served by git daemon on
# 127.0.0.1, export both as a signed bundle, verify it, show what is inside,
# and check it with stock tools (minisign, tar, skopeo, git); change a
# manifest and export again: the second bundle carries only that commit.
# Then on the "enclave" side install a trust root, import both bundles into
# a store, list it, and read it back with skopeo and git; finally commit a
# small web page, import it, and let `ferry reconcile` deploy it to rootful
# podman from the store (the image pulled through `ferry mirror serve`): it
# keeps running after the demo, which says how to stop it.
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

step "connected side: a git repository of manifests, served by git daemon"
export HOME=$work/home GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME" repos
git config --global user.name "Demo Operator"
git config --global user.email ops@example.com
git init -q -b main manifests
mkdir -p manifests/base manifests/overlays/site-a
cat > manifests/base/deployment.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: library/app:v1}]
YAML
printf 'resources: [deployment.yaml]\n' > manifests/base/kustomization.yaml
printf 'resources: [../../base]\nreplicas: [{name: app, count: 2}]\n' \
	> manifests/overlays/site-a/kustomization.yaml
git -C manifests add -A && git -C manifests commit -qm "app v1 for site-a"
git -C manifests tag -a v1 -m "release v1"
git clone -q --bare manifests repos/platform/deploy.git
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --listen=127.0.0.1 --port="$port" --base-path="$work/repos" --export-all \
	--reuseaddr --pid-file="$work/git-daemon.pid" "$work/repos" 2>git-daemon.log &
trap 'kill "$(cat "$work/git-daemon.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
echo "git://127.0.0.1:$port/platform/deploy.git: $(git ls-remote "git://127.0.0.1:$port/platform/deploy.git" | wc -l) refs"

cat > export.yaml <<SPEC
channel: demo
expires: 30d
sources:
  - oci-layout: images/app
    name: library/app
  - git: git://127.0.0.1:$port/platform/deploy.git
SPEC

step "ferry export"
"$ferry" export --spec export.yaml --key site-key.key --out out --state state/export.db \
	--cache cache
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

step "stock git reads the repository inside the bundle"
blob=$("$ferry" inspect --json "$bundle" | jq -r '.repositories[0].bundle | sub("sha256:"; "")')
git clone -q "extracted/blobs/sha256/$blob" deploy-clone
git -C deploy-clone fsck --strict --no-progress && echo "git fsck --strict: clean"
git -C deploy-clone log --oneline --decorate -n 3
cat deploy-clone/overlays/site-a/kustomization.yaml

step "a one-line change upstream, then the next export carries only that commit"
sed -i 's/count: 2/count: 3/' manifests/overlays/site-a/kustomization.yaml
git -C manifests commit -qam "site-a: three replicas"
git -C manifests push -q "$work/repos/platform/deploy.git" main
"$ferry" export --spec export.yaml --key site-key.key --out out --state state/export.db \
	--cache cache
next=$(ls out/*.tar | sort | tail -n 1)
"$ferry" inspect "$next" | sed -n '/^repositories/,/^members/p'
mkdir -p extracted2 && tar -xf "$next" -C extracted2
blob2=$("$ferry" inspect --json "$next" | jq -r '.repositories[0].bundle | sub("sha256:"; "")')
echo "git bundle of the change: $(stat -c %s "extracted2/blobs/sha256/$blob2") bytes (first: $(stat -c %s "extracted/blobs/sha256/$blob") bytes)"
git -C deploy-clone bundle verify "$work/extracted2/blobs/sha256/$blob2"
git -C deploy-clone pull -q "$work/extracted2/blobs/sha256/$blob2" main
grep count deploy-clone/overlays/site-a/kustomization.yaml

step "disconnected side: trust root and import into the store"
store=$work/store
"$ferry" trust init --store "$store" --key site-key.pub
"$ferry" import --store "$store" --audit-log "$work/audit.jsonl" "$bundle"
"$ferry" import --store "$store" --audit-log "$work/audit.jsonl" "$next"
"$ferry" store ls --store "$store"
echo "importing the first bundle again:"
"$ferry" import --store "$store" "$bundle"
echo "audit log:"
cat "$work/audit.jsonl"

step "the store is an OCI layout and a set of git repositories that stock tools read"
for ref in library/app:v1 library/app:multi; do
	digest=$(skopeo inspect --raw "oci:$store:$ref" | sha256sum | cut -d' ' -f1)
	echo "skopeo reads oci:store:$ref -> sha256:$digest"
done
repo=$(ls -d "$store"/git/*/*.git | head -n 1)
git clone -q "$repo" store-clone
git -C store-clone fsck --strict --no-progress && echo "git clone from the store: fsck --strict clean"
grep count store-clone/overlays/site-a/kustomization.yaml

step "the mirror serves the store to container runtimes (OCI pull API)"
"$ferry" mirror serve --store "$store" --listen 127.0.0.1:0 --port-file "$work/mirror.port" \
	--access-log "$work/mirror.log" 2>"$work/mirror.err" &
mirror_pid=$!
for _ in $(seq 1 100); do [ -s "$work/mirror.port" ] && break; sleep 0.05; done
port=$(cat "$work/mirror.port")
echo "mirror on http://127.0.0.1:$port (pid $mirror_pid)"
curl -s "http://127.0.0.1:$port/v2/_catalog"; echo
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$work/policy.json"
skopeo --policy "$work/policy.json" copy -q --all --src-tls-verify=false \
	"docker://127.0.0.1:$port/library/app:multi" "oci:$work/pulled:multi"
echo "skopeo pulled library/app:multi from the mirror ->" \
	"sha256:$(skopeo inspect --raw "oci:$work/pulled:multi" | sha256sum | cut -d' ' -f1)"
kill "$mirror_pid"; wait "$mirror_pid" 2>/dev/null || true
echo "mirror stopped; its access log: $work/mirror.log"

step "the reconciler deploys from the store: rootful podman (kube play)"
if ! command -v podman >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
	echo "podman is not installed or this is not root: skipping the deployment"
else
	# The mirror on a known port, so manifests can name images by digest on it.
	mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$ferry" mirror serve --store "$store" --listen "127.0.0.1:$mport" 2>"$work/mirror2.err" &
	mirror_pid=$!
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$mport/v2/" && break; sleep 0.05; done
	digest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' images/app/index.json)
	mkdir -p manifests/apps/web
	cat > manifests/apps/web/configmap.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: web-content}
data:
  index.html: "hello from the enclave: deployed by ferry reconcile"
YAML
	cat > manifests/apps/web/deployment.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: 127.0.0.1:$mport/library/app@$digest
        command: ["/bin/sh", "-c", "trap 'exit 0' TERM; /bin/busybox httpd -f -p 8080 -h /www & wait"]
        ports: [{containerPort: 8080, hostPort: $hport, hostIP: 127.0.0.1}]
        volumeMounts: [{name: content, mountPath: /www}]
      volumes:
      - {name: content, configMap: {name: web-content}}
YAML
	git -C manifests add -A && git -C manifests commit -qm "web: a small page, image by digest"
	git -C manifests push -q "$work/repos/platform/deploy.git" main
	"$ferry" export -q --spec export.yaml --key site-key.key --out out --state state/export.db --cache cache
	"$ferry" import --store "$store" "$(ls out/*.tar | sort | tail -n 1)"
	# podman in this sandbox needs these (see docs/man/ferry-reconcile.md)
	printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >containers.conf
	printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$mport" >registries.conf
	cat > reconcile.yaml <<CFG
store: $store
audit-log: $work/reconcile-audit.jsonl
podman: {containers-conf: containers.conf, registries-conf: registries.conf}
stacks:
  - name: demo-web
    source: {git: platform/deploy, branch: main, path: apps/web}
    runtime: podman
    policy: {auto-sync: true, interval: 30s, require-digests: true, freeze-file: .ferry-freeze}
CFG
	"$ferry" reconcile --config reconcile.yaml run --once
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$hport/" && break; sleep 0.1; done
	echo "the workload answers on http://127.0.0.1:$hport/ :"
	curl -s "http://127.0.0.1:$hport/index.html"; echo
	"$ferry" reconcile --config reconcile.yaml status
	echo "audit event:"; tail -n 1 "$work/reconcile-audit.jsonl" | jq -c '{stack, trigger, revision, images, bundle: .bundle[0:16], sequence, outcome}'
	kill "$mirror_pid"; wait "$mirror_pid" 2>/dev/null || true
	echo
	echo "It keeps running. To stop it:"
	echo "  $ferry reconcile --config $work/reconcile.yaml down demo-web"
	echo "  podman network rm podman-default-kube-network"
	echo "To keep it reconciled (polls, webhook), serve the store again and run the daemon:"
	echo "  $ferry mirror serve --store $store --listen 127.0.0.1:$mport &"
	echo "  $ferry reconcile --config $work/reconcile.yaml run"
fi

step "done"
echo "work directory: $work (store: $store)"
