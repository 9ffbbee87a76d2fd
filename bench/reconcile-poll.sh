#!/usr/bin/env bash
# Cost of one polling round of `ferry reconcile run --once` over N stacks
# (default 1000) whose sources did not change: per stack, resolve the ref in
# the store's git repository, compare with the applied revision, write the
# audit event and the state row. The stacks use the kubernetes target with
# dry-run (no cluster here), so drift checks are not part of the figure; on
# the podman target one `podman ps` serves a whole round, timed separately.
#   bench/reconcile-poll.sh [N]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ferry=${FERRY:-$top/build/cli/ferry}
n=${1:-1000}
w=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT
export HOME=$w/home GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name bench && git config --global user.email bench@example.com
git init -q --bare -b main "$w/deploy.git"
git clone -q "$w/deploy.git" "$w/work" 2>/dev/null
mkdir -p "$w/work/app"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n' >"$w/work/app/cm.yaml"
git -C "$w/work" add -A && git -C "$w/work" commit -qm one && git -C "$w/work" push -q origin main 2>/dev/null
"$ferry" keygen -o "$w/key" >/dev/null
printf 'channel: c\nsources:\n  - git: %s\n' "$w/deploy.git" >"$w/spec.yaml"
mkdir -p "$w/out"
"$ferry" export -q --spec "$w/spec.yaml" --key "$w/key.key" --out "$w/out" --state "$w/state.db" --cache "$w/cache" >/dev/null
"$ferry" trust init --store "$w/store" --key "$w/key.pub" >/dev/null
"$ferry" import -q --store "$w/store" "$w"/out/*.tar
{
	printf 'store: %s\nkubernetes: {dry-run: true}\nstacks:\n' "$w/store"
	for i in $(seq 1 "$n"); do
		printf '  - {name: s%d, source: {git: deploy, branch: main, path: app}, target: kubernetes}\n' "$i"
	done
} >"$w/r.yaml"
echo "applying $n stacks once (dry-run kubernetes target)..."
"$ferry" reconcile --config "$w/r.yaml" -q sync --all >/dev/null
for round in 1 2 3; do
	/usr/bin/time -f "round $round: %U s user + %S s system CPU, %e s wall, %M KiB max RSS" \
		"$ferry" reconcile --config "$w/r.yaml" run --once --workers 4
done
echo "events recorded: $(sqlite3 "$w/store/ferry.db" 'SELECT count(*) FROM reconcile_events')"
echo "outcomes of the last round: $(sqlite3 "$w/store/ferry.db" "SELECT outcome, count(*) FROM reconcile_events WHERE trigger = 'poll' GROUP BY outcome")"
if command -v podman >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	/usr/bin/time -f "one 'podman ps -a --filter label=ferry.stack --format json' (shared by a podman round): %U s user + %S s system, %e s wall" \
		podman --root "$w/proot" --runroot "$(mktemp -d /tmp/fb.XXXXXX)" --storage-driver vfs ps -a --filter label=ferry.stack --format json >/dev/null
fi
