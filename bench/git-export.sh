#!/usr/bin/env bash
# Git export against stock git on the same repository, in the same run:
#   1. full export: `ferry export` (fetch from git daemon on 127.0.0.1 into a
#      fresh cache + bundle) and the git bundle blob it writes, next to
#      `git bundle create --all` on the server's repository;
#   2. after one small commit: the incremental bundle blob next to
#      `git bundle create BASE..NEW` for the same change.
# Prints times, sizes and ratios, and whether each goal was met. Not a test.
#   bench/git-export.sh [COMMITS] [WORKDIR]     (default 10000, a new temp dir)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
commits=${1:-${COMMITS:-10000}}
work=${2:-$(mktemp -d /var/tmp/ferry-git-bench.XXXXXX)}
ferry_src=${FERRY:-$top/build/cli/ferry}
. "$top/bench/lib/git-bench.sh"

now() { date +%s.%N; }
# best of two runs (warm cache), in seconds
timed() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); echo "$t1 - $t0" | bc -l; }
min() { echo "if ($1 < $2) $1 else $2" | bc -l; }
size() { stat -c %s "$1"; }
ratio() { echo "scale=3; $1 / $2" | bc -l; }

# ---- a GitOps-like repository: 40 apps x 6 files, one or two files
# changed per commit (fast-import, a few seconds)
echo "generating a repository with $commits commits ..." >&2
python3 - "$commits" >"$work/stream" <<'PY'
import sys, random
n = int(sys.argv[1]); random.seed(7)
apps = ["app%02d" % i for i in range(40)]
files = ["deployment.yaml", "service.yaml", "configmap.yaml", "kustomization.yaml",
         "values.yaml", "ingress.yaml"]
state = {}
def body(app, f, v):
    lines = ["# %s/%s" % (app, f), "apiVersion: v1", "kind: ConfigMap",
             "metadata:", "  name: %s" % app, "  labels: {team: t%d}" % (hash(app) % 7),
             "data:"]
    for k in range(30):
        lines.append("  key%02d: \"%s-%d-%d\"" % (k, app, k, v if k == v % 30 else 0))
    lines.append("  revision: \"%d\"" % v)
    return ("\n".join(lines) + "\n").encode()
out = sys.stdout.buffer
mark = 0
for c in range(n):
    changes = []
    if c == 0:
        for a in apps:
            for f in files:
                changes.append((a, f, 0))
    else:
        for _ in range(random.choice((1, 1, 2))):
            changes.append((random.choice(apps), random.choice(files), c))
    blobs = []
    for a, f, v in changes:
        mark += 1
        data = body(a, f, v)
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
        blobs.append((a, f, mark))
    msg = ("update %d\n" % c).encode()
    out.write(b"commit refs/heads/main\ncommitter Bench <b@example.com> %d +0000\n"
              % (1600000000 + c * 60))
    out.write(b"data %d\n" % len(msg) + msg)
    for a, f, m in blobs:
        out.write(b"M 100644 :%d %s/%s\n" % (m, a.encode(), f.encode()))
    out.write(b"\n")
    if c and c % 1000 == 0:
        out.write(b"reset refs/tags/v%d\nfrom refs/heads/main\n\n" % (c // 1000))
PY
git init -q --bare -b main "$work/repo.git"
git -C "$work/repo.git" fast-import --quiet <"$work/stream"
git -C "$work/repo.git" repack -adq   # as a server would hold it
rm -f "$work/stream"

# served by git daemon on 127.0.0.1, as an export host fetches from a server
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --listen=127.0.0.1 --port="$port" --base-path="$work" --export-all --reuseaddr \
	--pid-file="$work/git-daemon.pid" "$work" 2>"$work/git-daemon.log" &
trap 'kill "$(cat "$work/git-daemon.pid" 2>/dev/null)" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

"$ferry" keygen -o "$work/key" >/dev/null
cat >"$work/spec.yaml" <<EOF
channel: bench
sources:
  - git: git://127.0.0.1:$port/repo.git
    name: bench/repo
EOF
mkdir -p "$work/out"

# ---- full: ferry (fresh cache each run: fetch + checks + pack) vs git
t_git=999999 t_ferry=999999
for run in 1 2; do
	rm -f "$work/all.bundle"
	t=$(timed git -C "$work/repo.git" bundle create "$work/all.bundle" --all)
	t_git=$(min "$t_git" "$t")
	rm -rf "$work/cache" "$work/state.db"* "$work/out"/*
	t=$(timed "$ferry" export -q --spec "$work/spec.yaml" --key "$work/key.key" \
		--out "$work/out" --state "$work/state.db" --cache "$work/cache")
	t_ferry=$(min "$t_ferry" "$t")
done
# the same again with the cache warm (nothing to fetch): bundle writing alone
rm -rf "$work/state.db"* "$work/out"/*
t_warm=$(timed "$ferry" export -q --spec "$work/spec.yaml" --key "$work/key.key" \
	--out "$work/out" --state "$work/state.db" --cache "$work/cache")
full=$(ls "$work"/out/*.tar)
blob=$("$ferry" inspect --json "$full" | jq -r '.repositories[0].bundle | sub("sha256:"; "")')
mkdir -p "$work/x1"
tar -xf "$full" -C "$work/x1" "blobs/sha256/$blob"
s_ferry=$(size "$work/x1/blobs/sha256/$blob")
s_git=$(size "$work/all.bundle")
git clone -q --bare "$work/x1/blobs/sha256/$blob" "$work/check.git"
git -C "$work/check.git" fsck --strict --no-progress
[ "$(git -C "$work/check.git" rev-list --all --count)" = "$(git -C "$work/repo.git" rev-list --all --count)" ] ||
	{ echo "the clone of the ferry bundle lacks commits" >&2; exit 1; }

# ---- incremental: one small commit
base=$(git -C "$work/repo.git" rev-parse main)
git clone -q "$work/repo.git" "$work/wt"
sed -i 's/^  key07: .*/  key07: "changed"/' "$work/wt/app13/values.yaml"
git -C "$work/wt" commit -qam "one small change"
git -C "$work/wt" push -q origin main
new=$(git -C "$work/repo.git" rev-parse main)
git -C "$work/repo.git" bundle create "$work/inc.bundle" "$base..main" 2>/dev/null
rm -rf "$work/out"/*
"$ferry" export -q --spec "$work/spec.yaml" --key "$work/key.key" --out "$work/out" \
	--state "$work/state.db" --cache "$work/cache" >/dev/null
inc=$(ls "$work"/out/*.tar)
iblob=$("$ferry" inspect --json "$inc" | jq -r '.repositories[0].bundle | sub("sha256:"; "")')
mkdir -p "$work/x2"
tar -xf "$inc" -C "$work/x2" "blobs/sha256/$iblob"
s_inc=$(size "$work/x2/blobs/sha256/$iblob")
s_ginc=$(size "$work/inc.bundle")
git -C "$work/check.git" bundle verify "$work/x2/blobs/sha256/$iblob" >/dev/null 2>&1 ||
	{ echo "the incremental bundle does not verify on a clone of the full one" >&2; exit 1; }
git -C "$work/check.git" fetch -q "$work/x2/blobs/sha256/$iblob" main:main
[ "$(git -C "$work/check.git" rev-parse main)" = "$new" ] || { echo "incremental fetch gave the wrong tip" >&2; exit 1; }

goal() { if [ "$(echo "$1 <= $2" | bc -l)" = 1 ]; then echo "GOAL MET"; else echo "GOAL MISSED"; fi; }
rt=$(ratio "$t_ferry" "$t_git") rs=$(ratio "$s_ferry" "$s_git") ri=$(ratio "$s_inc" "$s_ginc")
rw=$(ratio "$t_warm" "$t_git")
echo
echo "repository: $commits commits, $(git -C "$work/repo.git" count-objects -v | awk '/size-pack/ {print $2}') KiB packed"
printf '%-46s %10s %12s\n' "" "time s" "bytes"
printf '%-46s %10.3f %12d\n' "git bundle create --all" "$t_git" "$s_git"
printf '%-46s %10.3f %12d\n' "ferry export, full (fetch + check + pack)" "$t_ferry" "$s_ferry"
printf '%-46s %10.3f %12s\n' "ferry export, full, cache already fetched" "$t_warm" "-"
printf '%-46s %10s %12d\n' "git bundle create BASE..NEW (one commit)" "" "$s_ginc"
printf '%-46s %10s %12d\n' "ferry export, incremental (one commit)" "" "$s_inc"
echo
echo "full time ratio:  $rt x git (aim <= 1.2: $(goal "$rt" 1.2)); with a warm cache $rw x"
echo "full size ratio:  $rs x git (aim <= 1.05: $(goal "$rs" 1.05))"
echo "incremental size: $ri x git (goal <= 1.1: $(goal "$ri" 1.1))"
