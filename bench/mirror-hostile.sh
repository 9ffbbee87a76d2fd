#!/usr/bin/env bash
# Hostile-load benchmark of the mirror's git service: eight clients `git
# clone` a repository of random blobs (default 100 MiB) at once while 200
# slow clients trickle request headers one byte a second (from four
# loopback addresses, reconnecting when cut), and a ninth, well-behaved
# client asks for the ref advertisement twice a second. Prints the mirror's
# peak memory (VmHWM), the clones' times and the ninth client's latency;
# then the same run against git http-backend under lighttpd, for reference
# (its memory is the peak of the sum over lighttpd and its CGI processes).
# Not a pass/fail test; the memory target is in docs/man/ferry-mirror.md.
#   bench/mirror-hostile.sh [REPO_MIB] [SLOW_CLIENTS]      (defaults 100, 200)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mib=${1:-100}
slow=${2:-200}
FERRY=${FERRY:-$top/build/cli/ferry}
[ -x "$FERRY" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
for c in git curl python3 lighttpd; do
	command -v "$c" >/dev/null || { echo "needs $c (scripts/install-deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d /var/tmp/ferry-mirror-hostile.XXXXXX)
export TMPDIR=$W/tmp
mkdir -p "$TMPDIR"
T=$W
fail() { echo "bench: $*" >&2; exit 1; }
skip_all() { fail "$*"; }
_cleanups=()
at_exit() { _cleanups+=("$1"); }
. "$top/tests/lib/mirror.sh"
. "$top/tests/lib/git-server.sh"
cleanup() {
	local c
	for c in "${_cleanups[@]}"; do eval "$c" || true; done
	mirror_stop || true
	rm -rf "$W"
}
trap cleanup EXIT
TRICKLE=$top/tests/lib/trickle.py

echo "== setup (not measured): a ${mib} MiB repository of 1 MiB random blobs, exported and imported"
mirror_big_repo "$W/src" "$mib"
mirror_git_channel
mirror_git_export
"$FERRY" trust init --store "$W/store" --key "$W/k.pub" >/dev/null
"$FERRY" import -q --store "$W/store" "$W"/bundles/*.tar
echo "store: $(du -sm "$W/store/git" | cut -f1) MiB of git objects"

# The peak of the summed RSS (KiB) of a process and its descendants, sampled
# every 0.1 s until the file $2 exists; written to $3.
tree_peak() {
	python3 - "$@" <<'PY'
import os, sys, time
root, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
peak = 0
while not os.path.exists(stop):
    kids, rss = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % p).read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            for line in open("/proc/%s/status" % p):
                if line.startswith("VmRSS:"):
                    rss[int(p)] = int(line.split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError):
            pass
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += kids.get(p, [])
    peak = max(peak, total)
    time.sleep(0.1)
open(out, "w").write("%d\n" % peak)
PY
}

# run NAME BASE_URL PORT: the load against one server; figures in $W/NAME.*
run() {
	local name=$1 url=$2 port=$3 i pids=()
	python3 "$TRICKLE" "$port" --count "$slow" --path /git/platform/deploy.git/info/refs \
		--sources 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 --reconnect --report "$W/$name.trickle" &
	local trickle=$!
	sleep 2
	local start=$(date +%s.%N)
	for i in 1 2 3 4 5 6 7 8; do
		( s=$(date +%s.%N)
		  if git clone -q "$url/platform/deploy.git" "$W/$name.clone$i" 2>"$W/$name.clone$i.err"; then
			  echo "ok $(echo "$(date +%s.%N) - $s" | bc)"
		  else
			  echo "failed $(echo "$(date +%s.%N) - $s" | bc)"
		  fi >"$W/$name.clone$i.result"
		  rm -rf "$W/$name.clone$i" ) &
		pids+=($!)
	done
	# the ninth client, while the clones run
	: >"$W/$name.ninth"
	while kill -0 "${pids[@]}" 2>/dev/null; do
		curl -s -o /dev/null --max-time 30 -w '%{http_code} %{time_total}\n' \
			"$url/platform/deploy.git/info/refs?service=git-upload-pack" >>"$W/$name.ninth" || true
		sleep 0.5
	done
	wait "${pids[@]}" 2>/dev/null || true
	echo "$(date +%s.%N) - $start" | bc >"$W/$name.wall"
	kill "$trickle" 2>/dev/null || true
	wait "$trickle" 2>/dev/null || true
}
clones() { cat "$W/$1".clone*.result | awk '$1 == "ok" { n++; if ($2 > m) m = $2 } END { printf "%d/8 ok, slowest %.1f s", n, m }'; }
ninth() {
	local ok n
	ok=$(awk '$1 == 200' "$W/$1.ninth" | wc -l)
	n=$(wc -l <"$W/$1.ninth")
	awk '{ print $2 }' "$W/$1.ninth" | sort -n |
		awk -v ok="$ok" -v n="$n" '{ t[NR] = $1 } END { printf "%d/%d answered 200, median %.3f s, max %.3f s", ok, n, t[int((NR + 1) / 2)], t[NR] }'
}

echo "== ferry mirror: 8 clones, $slow slow clients, a ninth client"
mirror_start "$W/store" --max-connections 512 --max-per-client 64 --pack-queue-timeout 900 ||
	fail "mirror did not start"
run ferry "$MIRROR_URL/git" "$MIRROR_PORT"
ferry_hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$MIRROR_PID/status")
mirror_stop

echo "== git http-backend under lighttpd: the same load"
git_http_start "$W/store/git"
tree_peak "$GIT_HTTP_PID" "$W/stop-sampling" "$W/backend.peak" &
sampler=$!
backend_port=${GIT_HTTP_URL#http://127.0.0.1:}
run backend "$GIT_HTTP_URL" "${backend_port%%/*}"
touch "$W/stop-sampling"
wait "$sampler"
backend_peak=$(cat "$W/backend.peak")
git_http_stop

allow=$(( (slow + 9) * 64 ))   # KiB: 64 KiB per connection
echo
printf '%-34s %s\n' "ferry mirror peak RSS (VmHWM)" "$((ferry_hwm / 1024)) MiB"
printf '%-34s %s\n' "ferry clones" "$(clones ferry), all 8 done in $(printf '%.1f' "$(cat "$W/ferry.wall")") s"
printf '%-34s %s\n' "ferry ninth client" "$(ninth ferry)"
printf '%-34s %s\n' "ferry slow clients cut" "$(grep -c '^cut' "$W/ferry.trickle" || true)"
printf '%-34s %s\n' "http-backend peak RSS (tree)" "$((backend_peak / 1024)) MiB"
printf '%-34s %s\n' "http-backend clones" "$(clones backend), all 8 done in $(printf '%.1f' "$(cat "$W/backend.wall")") s"
printf '%-34s %s\n' "http-backend ninth client" "$(ninth backend)"
echo
target=$(( 64 * 1024 + allow ))
if [ "$ferry_hwm" -lt "$target" ]; then verdict="GOAL MET"; else verdict="GOAL MISSED"; fi
echo "memory target: 64 MiB + 64 KiB x $((slow + 9)) connections = $((target / 1024)) MiB; ferry peaked at $((ferry_hwm / 1024)) MiB ($verdict)"
