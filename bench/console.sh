#!/usr/bin/env bash
# Console benchmark: how long does the console take to build each page of
# a site with many stacks and a long audit trail?
#
# usage: bench/console.sh [STACKS] [EVENTS] [WORKDIR]
#
#   STACKS   stacks in the reconciler's config (default 1000), each synced
#            once by `ferry reconcile sync --all` (kubernetes, dry-run)
#   EVENTS   reconcile events in the store (default 10000): the sync's
#            events, copied with earlier times until there are EVENTS
#   WORKDIR  scratch directory (default: a new mktemp directory under
#            /var/tmp), removed at the end unless KEEP=1
#
# Environment: FERRY (the binary, default <tree>/build/cli/ferry), RUNS
# (requests per page, median kept; default 5), KEEP=1.
#
# Measures the server time of each page (its Server-Timing header: from
# the request's arrival to the response being queued), median of RUNS, for
# an operator logged in: overview, store, stacks, one stack, audit, audit
# filtered by stack, and the JSON lines export of every event. The
# reference, from the same run: `ferry reconcile status --json` on the same
# config, the command line's answer to the stacks page (wall time, median
# of RUNS), and the ratio. Goal (reported, not enforced): every page under
# 100 ms.
set -euo pipefail

GOAL_MS=100

die() { echo "console bench: $*" >&2; exit 1; }
case ${1:-} in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;; esac
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKS=${1:-1000}
EVENTS=${2:-10000}
W=${3:-$(mktemp -d /var/tmp/ferry-console-bench.XXXXXX)}
RUNS=${RUNS:-5}
FERRY_BIN=${FERRY:-$SRC/build/cli/ferry}
[ -x "$FERRY_BIN" ] || die "no ferry at $FERRY_BIN (build it, or set FERRY)"
for c in git curl jq sqlite3 htpasswd bc; do command -v "$c" >/dev/null || die "needs $c"; done
mkdir -p "$W"
[ -z "$(ls -A "$W")" ] || die "$W is not empty"
CONSOLE=
cleanup() {
	[ -n "$CONSOLE" ] && kill "$CONSOLE" 2>/dev/null && wait "$CONSOLE" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
cp "$FERRY_BIN" "$W/ferry"
FERRY=$W/ferry
cd "$W"
export HOME=$W/home GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name bench && git config --global user.email bench@example.com

echo "== setup: $STACKS stacks, $EVENTS events in $W"
git init -q --bare -b main deploy.git
git clone -q deploy.git work 2>/dev/null
mkdir -p work/app
cat >work/app/deployment.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: app, image: "mirror.local/library/app@sha256:$(printf '%064d' 1)"}]}
YAML
git -C work add -A && git -C work commit -qm one && git -C work push -q origin main 2>/dev/null
"$FERRY" keygen -o key >/dev/null
printf 'channel: c\nsources:\n  - git: %s/deploy.git\n' "$W" >spec.yaml
mkdir -p bundles
"$FERRY" export -q --spec spec.yaml --key key.key --out bundles --state state.db --cache cache >/dev/null
"$FERRY" trust init --store store --key key.pub >/dev/null
"$FERRY" import -q --store store bundles/*.tar
{
	printf 'store: %s/store\nkubernetes: {dry-run: true}\nstacks:\n' "$W"
	for i in $(seq -w 1 "$STACKS"); do
		printf '  - {name: s%s, source: {git: deploy, branch: main, path: app}, target: kubernetes, policy: {interval: 1h}}\n' "$i"
	done
} >r.yaml
t0=$(date +%s.%N)
"$FERRY" reconcile --config r.yaml sync --all -q >/dev/null
t1=$(date +%s.%N)
printf '   %d stacks synced in %.1f s\n' "$STACKS" "$(echo "$t1 - $t0" | bc -l)"
have=$(sqlite3 store/ferry.db 'SELECT count(*) FROM reconcile_events')
cols="stack, trigger, actor, source, ref, revision, images, bundle_id, channel, sequence, target, outcome, drift, detail, error"
shift_s=86400
while [ "$have" -lt "$EVENTS" ]; do
	sqlite3 store/ferry.db "INSERT INTO reconcile_events(time, $cols)
		SELECT time - $shift_s, $cols FROM reconcile_events ORDER BY id LIMIT $((EVENTS - have))"
	shift_s=$((shift_s + 86400))
	have=$(sqlite3 store/ferry.db 'SELECT count(*) FROM reconcile_events')
done
echo "   $have reconcile events, $(sqlite3 store/ferry.db 'SELECT count(*) FROM audit') import events"
htpasswd -nbB otto act >operators

"$FERRY" console --store store --config r.yaml --listen 127.0.0.1:0 --port-file port \
	--operators operators 2>console.err &
CONSOLE=$!
for _ in $(seq 1 100); do [ -s port ] && break; sleep 0.05; done
[ -s port ] || die "the console did not start: $(cat console.err)"
U=http://127.0.0.1:$(cat port)
curl -s -c jar -o /dev/null -d 'user=otto&password=act' "$U/login"

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# page PATH: the median server time in ms
page() {
	local i code
	for i in $(seq 1 "$RUNS"); do
		code=$(curl -s -b jar -o body -D headers -w '%{http_code}' "$U$1")
		[ "$code" = 200 ] || die "$1 answered $code"
		sed -n 's/^[Ss]erver-[Tt]iming: app;dur=\([0-9.]*\).*/\1/p' headers
	done | median
}
cli_status() {
	local i t0 t1
	for i in $(seq 1 "$RUNS"); do
		t0=$(date +%s.%N)
		"$FERRY" reconcile --config r.yaml status --json >/dev/null
		t1=$(date +%s.%N)
		echo "($t1 - $t0) * 1000" | bc -l
	done | median
}

echo "== server time per page, median of $RUNS (goal: < $GOAL_MS ms)"
worst=0
mid=$(printf 's%0*d' "${#STACKS}" $((STACKS / 2)))
for p in / /store /stacks "/stacks/$mid" /audit "/audit?stack=$mid" "/audit?since=1d"; do
	ms=$(page "$p")
	printf '   %-24s %8.2f ms  %s\n' "$p" "$ms" \
		"$(echo "$ms < $GOAL_MS" | bc -l | sed 's/1/ok/; s/0/OVER THE GOAL/')"
	worst=$(echo "if ($ms > $worst) $ms else $worst" | bc -l)
done
ms=$(page /audit.jsonl)
printf '   %-24s %8.2f ms  (%d lines, %d bytes; an export, not a page)\n' /audit.jsonl "$ms" \
	"$(wc -l <body)" "$(wc -c <body)"
ref=$(cli_status)
stacks_ms=$(page /stacks)
printf '== reference: ferry reconcile status --json (%d stacks) %.2f ms wall; the stacks page %.2f ms: %.2fx\n' \
	"$STACKS" "$ref" "$stacks_ms" "$(echo "$stacks_ms / $ref" | bc -l)"
printf '== slowest page %.2f ms: %s\n' "$worst" \
	"$(echo "$worst < $GOAL_MS" | bc -l | sed 's/1/goal met/; s/0/goal NOT met/')"
echo "   console peak RSS: $(grep VmHWM /proc/$CONSOLE/status | awk '{print $2, $3}')"
