#!/usr/bin/env bash
# Make the store fixture of schema version 1 (store.tar.gz beside this
# script) with a ferry binary of that release (0.1.0, commit 24411cf):
#   tests/resources/store-v1/make.sh /path/to/that/ferry
# The store holds a trust root, one channel with one bundle (an OCI image
# layout of three images and a git repository), a seed target with
# credentials and its progress, and reconcile events and state of a
# kubernetes dry-run stack; beside it, the exporter's state database
# (export-state.db) that made the bundle. The keys travel with it (k.pub,
# k.key) so tests can sign further bundles for the same channel.
set -euo pipefail
FERRY=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export HOME=$T/home GIT_CONFIG_NOSYSTEM=1 SOURCE_DATE_EPOCH=1767225600
mkdir -p "$HOME"
git config --global user.name Fixture && git config --global user.email fixture@example.com
. "$src/tests/lib/oci-fixture.sh"
make_oci_layout "$T/layout" 64 >/dev/null
git init -q --bare -b main "$T/deploy.git"
git clone -q "$T/deploy.git" "$T/work" 2>/dev/null
mkdir -p "$T/work/app"
cat >"$T/work/app/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: web, image: "mirror.local/library/app:v1"}]}
YAML
git -C "$T/work" add -A && git -C "$T/work" commit -qm one && git -C "$T/work" tag v1
git -C "$T/work" push -q origin main v1 2>/dev/null
cp "$here/k.pub" "$here/k.key" "$T/" 2>/dev/null || "$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: fixture\nsources:\n  - oci-layout: %s\n    name: library/app\n  - git: %s\n' \
	"$T/layout" "$T/deploy.git" >"$T/spec.yaml"
mkdir "$T/bundles"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
S=$T/store
"$FERRY" trust init --store "$S" --key "$T/k.pub" --expires 2099-01-01T00:00:00Z >/dev/null
"$FERRY" import -q --store "$S" --no-seed "$T"/bundles/*.tar
printf 'user:secret\n' >"$T/cred"
"$FERRY" target add reg --store "$S" --kind oci --url http://127.0.0.1:1 --credentials "$T/cred" >/dev/null
sqlite3 "$S/ferry.db" "INSERT INTO seed_progress VALUES ('reg', 'blob library/app x', 'done', 1767225600)"
cat >"$T/r.yaml" <<CFG
store: $S
kubernetes: {dry-run: true}
stacks:
  - {name: web, source: {git: deploy, branch: main, path: app}, target: kubernetes}
CFG
"$FERRY" reconcile --config "$T/r.yaml" sync web >/dev/null
rm -rf "$S/staging" "$S/reconcile" "$S/lock"
sqlite3 "$S/ferry.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
[ "$(sqlite3 "$S/ferry.db" 'PRAGMA user_version')" = 1 ]
cp "$T/k.pub" "$T/k.key" "$here/"
sqlite3 "$T/state.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
mv "$T/state.db" "$T/export-state.db"
tar -C "$T" --sort=name --owner=0 --group=0 --mtime=@1767225600 -czf "$here/store.tar.gz" \
	store export-state.db
echo "wrote $here/store.tar.gz"
