#!/usr/bin/env bash
# Git export and import at scale against stock git, on the same large
# repository, in the same run:
#   1. full export from a git daemon source (fresh cache), next to what git
#      takes for the same (`git clone --mirror` from the daemon, then `git
#      bundle create --all`), and from a local path, next to `git bundle
#      create --all`;
#   2. an incremental export of the last 100 commits of the default branch
#      (the source is rewound by 100 commits for the full exports, then
#      moved forward), next to `git bundle create OLD..NEW`;
#   3. import of the full bundle into a new store, next to `git clone
#      --mirror` of git's bundle and `git index-pack` of its pack;
#   4. import of the incremental bundle, next to `git fetch` of git's
#      incremental bundle into that mirror.
# Prints times, sizes, peak RSS (of the process and the children it waited
# for) and ratios, and whether each aim is met; the steps the aims compare
# with git's (full export from a path, full import, and git's bundle,
# mirror and index-pack) are medians of $REPEAT runs (default 3). Not a
# test.
#
#   FERRY_BENCH_REPO=/path/to/repo bench/git-scale.sh [WORKDIR]
#
# FERRY_BENCH_REPO is a git directory (bare or not) to copy the branches and
# tags of (e.g. a mirror of curl/curl); without it a repository of
# $COMMITS commits (default 40,000: over 250,000 objects, real deltas) is
# generated. WORKDIR defaults
# to a new directory under /var/tmp and is removed at the end unless KEEP=1.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /var/tmp/ferry-git-scale.XXXXXX)}
ferry_src=${FERRY:-$top/build/cli/ferry}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }
daemon_pid=
cleanup() {
	[ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
. "$top/bench/lib/git-bench.sh"

# run CMD...: sets T (seconds) and M (peak RSS, MiB); output discarded.
# What earlier steps wrote is on disk first, so that its writeback does not
# land in this step's time (ferry syncs what it writes; git bundle doesn't).
run() {
	sync
	/usr/bin/time -o "$work/time" -f '%e %M' "$@" >"$work/run.log" 2>&1 ||
		{ cat "$work/run.log" >&2; echo "failed: $*" >&2; exit 1; }
	read -r T M <"$work/time"
	M=$((M / 1024))
}
# median PREP CMD...: PREP, then CMD under run, $REPEAT times (default 3);
# T and M are the medians. For the steps whose times decide the aims.
REPEAT=${REPEAT:-3}
median() {
	local prep=$1 i ts=() ms=()
	shift
	for i in $(seq 1 "$REPEAT"); do
		"$prep"
		run "$@"
		ts+=("$T") ms+=("$M")
	done
	T=$(printf '%s\n' "${ts[@]}" | sort -g | sed -n "$(((REPEAT + 1) / 2))p")
	M=$(printf '%s\n' "${ms[@]}" | sort -n | sed -n "$(((REPEAT + 1) / 2))p")
}
size() { stat -c %s "$1"; }
# ratio A B: A/B to 3 decimals (rounded); aims compare that figure
ratio() { printf '%.3f' "$(echo "scale=6; $1 / $2" | bc -l)"; }
aim() { if [ "$(echo "$1 <= $2" | bc -l)" = 1 ]; then echo "met"; else echo "MISSED"; fi; }

# ---- the source repository ------------------------------------------------
src=$work/src/repo.git
mkdir -p "$work/src"
git init -q --bare "$src"
if [ -n "${FERRY_BENCH_REPO:-}" ]; then
	echo "copying branches and tags of $FERRY_BENCH_REPO ..." >&2
	git -C "$src" fetch -q --no-tags "$FERRY_BENCH_REPO" \
		'+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
	what=$FERRY_BENCH_REPO
else
	commits=${COMMITS:-40000}
	echo "generating a repository of $commits commits ..." >&2
	python3 - "$commits" <<'PY' | git -C "$src" fast-import --quiet
import sys, random
n = int(sys.argv[1]); random.seed(11)
dirs = ["src/lib%02d/part%d" % (i, k) for i in range(30) for k in range(4)]
files = ["f%02d.c" % i for i in range(8)]
content = {}
def body(path, v):
    lines = content.setdefault(path, ["/* %s line %d */ int x%d = %d;" % (path, i, i, i)
                                      for i in range(120)])
    for _ in range(random.randint(1, 4)):
        lines[random.randrange(len(lines))] = "/* rev %d */ int y%d = %d;" % (v, random.randrange(999), v)
    if random.random() < 0.2:
        lines.insert(random.randrange(len(lines)), "static int added_%d;" % v)
    return ("\n".join(lines) + "\n").encode()
out = sys.stdout.buffer
for c in range(n):
    changes = []
    if c == 0:
        changes = [(d + "/" + f) for d in dirs for f in files]
    else:
        changes = [random.choice(dirs) + "/" + random.choice(files)
                   for _ in range(random.choice((1, 2, 2, 3)))]
    out.write(b"commit refs/heads/main\ncommitter Bench <b@example.com> %d +0000\n"
              % (1500000000 + c * 600))
    msg = ("change %d\n" % c).encode()
    out.write(b"data %d\n" % len(msg) + msg)
    for p in changes:
        data = body(p, c)
        out.write(b"M 100644 inline %s\ndata %d\n" % (p.encode(), len(data)) + data + b"\n")
    out.write(b"\n")
    if c and c % 2000 == 0:
        out.write(b"reset refs/tags/v%d\nfrom refs/heads/main\n\n" % (c // 2000))
PY
	git -C "$src" repack -adq --depth=50 --window=10
	what="generated ($commits commits)"
fi
head_ref=$(git -C "$src" symbolic-ref HEAD)
git -C "$src" rev-parse -q --verify "$head_ref" >/dev/null ||
	head_ref=$(git -C "$src" for-each-ref --format='%(refname)' 'refs/heads/' | head -1)
new=$(git -C "$src" rev-parse "$head_ref")
old=$(git -C "$src" rev-parse "$head_ref~100")
objects=$(git -C "$src" count-objects -v | awk '/^in-pack/ {print $2}')
packed=$(git -C "$src" count-objects -v | awk '/^size-pack/ {print $2}')
echo "source: $what: $objects objects, $((packed / 1024)) MiB packed, $(git -C "$src" for-each-ref | wc -l) refs" >&2

# rewound by 100 commits for the full exports
git -C "$src" update-ref "$head_ref" "$old"

"$ferry" keygen -o "$work/key" >/dev/null
spec() {   # spec NAME URL
	printf 'channel: %s\nsources:\n  - git: %s\n    name: bench/repo\n' "$1" "$2" >"$work/$1.yaml"
}
export_() {   # export_ CHANNEL: into $work/out-CHANNEL, state and cache per channel
	mkdir -p "$work/out-$1"
	run "$ferry" export -q --spec "$work/$1.yaml" --key "$work/key.key" --out "$work/out-$1" \
		--state "$work/state-$1.db" --cache "$work/cache-$1"
}
# the git bundle file inside the newest bundle of CHANNEL -> $work/blob-CHANNEL
blob_of() {
	local tar blob
	tar=$(ls -t "$work/out-$1"/*.tar | head -1)
	blob=$("$ferry" inspect --json "$tar" | jq -r '.repositories[0].bundle | sub("sha256:"; "")')
	rm -rf "$work/x"
	mkdir -p "$work/x"
	tar -xf "$tar" -C "$work/x" "blobs/sha256/$blob"
	mv "$work/x/blobs/sha256/$blob" "$work/blob-$1"
	echo "$tar"
}

# ---- full export ----------------------------------------------------------
echo "full export ..." >&2
median true git -C "$src" bundle create "$work/all.bundle" --all
t_gb=$T m_gb=$M s_gb=$(size "$work/all.bundle")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --listen=127.0.0.1 --port="$port" --base-path="$work/src" --export-all --reuseaddr \
	"$work/src" 2>"$work/git-daemon.log" &
daemon_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
spec daemon "git://127.0.0.1:$port/repo.git"
export_ daemon
t_fd=$T m_fd=$M
# git's way from a daemon source to a bundle: a mirror, then the bundle
run git clone -q --mirror "git://127.0.0.1:$port/repo.git" "$work/dclone.git"
t_dc=$T m_dc=$M
run git -C "$work/dclone.git" bundle create "$work/dall.bundle" --all
t_dg=$(echo "$t_dc + $T" | bc -l) m_dg=$((M > m_dc ? M : m_dc))
blob_of daemon >/dev/null
s_fd=$(size "$work/blob-daemon")
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=

spec local "$src"
fresh_local() {
	rm -rf "$work/out-local" "$work/state-local.db" "$work/cache-local"
	mkdir -p "$work/out-local"
}
median fresh_local "$ferry" export -q --spec "$work/local.yaml" --key "$work/key.key" \
	--out "$work/out-local" --state "$work/state-local.db" --cache "$work/cache-local"
t_fl=$T m_fl=$M
full_tar=$(blob_of local)
s_fl=$(size "$work/blob-local")

# ---- incremental export ---------------------------------------------------
echo "incremental export ..." >&2
git -C "$src" update-ref "$head_ref" "$new"
run git -C "$src" bundle create "$work/inc.bundle" "$old..$head_ref"
t_gi=$T m_gi=$M s_gi=$(size "$work/inc.bundle")
export_ local
t_fi=$T m_fi=$M
inc_tar=$(blob_of local)
s_fi=$(size "$work/blob-local")

# ---- import ---------------------------------------------------------------
echo "import ..." >&2
fresh_store() {
	rm -rf "$work/store"
	"$ferry" trust init --store "$work/store" --key "$work/key.pub" >/dev/null
}
median fresh_store "$ferry" import -q --store "$work/store" "$full_tar"
t_if=$T m_if=$M
run "$ferry" import -q --store "$work/store" "$inc_tar"
t_ii=$T m_ii=$M
# git: a mirror of git's full bundle (rewound), then a fetch of its
# incremental one; index-pack of the full bundle's pack alone
fresh_mirror() { rm -rf "$work/mirror.git"; }
median fresh_mirror git clone -q --mirror "$work/all.bundle" "$work/mirror.git"
t_gc=$T m_gc=$M
run git -C "$work/mirror.git" fetch -q "$work/inc.bundle" "$head_ref:$head_ref"
t_gf=$T m_gf=$M
python3 - "$work/all.bundle" "$work/all.pack" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(data[data.index(b"\n\n") + 2:])
PY
fresh_ip() { rm -rf "$work/ip.git"; git init -q --bare "$work/ip.git"; }
# shellcheck disable=SC2016
median fresh_ip sh -c 'exec git -C "$1" index-pack --stdin <"$2"' sh "$work/ip.git" "$work/all.pack"
t_ip=$T m_ip=$M

# the store's repository is what the source holds
store_git=$(find "$work/store/git" -name '*.git' -type d | head -1)
[ "$(git -C "$store_git" rev-parse "$head_ref")" = "$new" ] ||
	{ echo "the store does not hold the new tip" >&2; exit 1; }
[ "$(git -C "$store_git" rev-list --all --count)" = "$(git -C "$src" rev-list --all --count)" ] ||
	{ echo "the store lacks commits" >&2; exit 1; }

# ---- the table ------------------------------------------------------------
echo
echo "source: $what: $objects objects, $((packed / 1024)) MiB packed; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-50s %9s %8s %13s\n' "" "time s" "RSS MiB" "bytes"
row() { printf '%-50s %9s %8s %13s\n' "$1" "$2" "$3" "${4:--}"; }
row "git bundle create --all" "$t_gb" "$m_gb" "$s_gb"
row "git clone --mirror git:// + git bundle --all" "$t_dg" "$m_dg"
row "ferry export, full, git daemon source" "$t_fd" "$m_fd" "$s_fd"
row "ferry export, full, local path" "$t_fl" "$m_fl" "$s_fl"
row "git bundle create OLD..NEW (100 commits)" "$t_gi" "$m_gi" "$s_gi"
row "ferry export, incremental (100 commits)" "$t_fi" "$m_fi" "$s_fi"
row "git clone --mirror <full git bundle>" "$t_gc" "$m_gc"
row "git index-pack <its pack>" "$t_ip" "$m_ip"
row "ferry import, full" "$t_if" "$m_if"
row "git fetch <incremental git bundle>" "$t_gf" "$m_gf"
row "ferry import, incremental" "$t_ii" "$m_ii"
echo
r=$(ratio "$t_fd" "$t_dg"); echo "full export, daemon: ${r}x git clone --mirror + git bundle (aim <= 1.5: $(aim "$r" 1.5)); $(ratio "$t_fd" "$t_gb")x a local git bundle"
r=$(ratio "$t_fl" "$t_gb"); echo "full export, local:  ${r}x git bundle (aim <= 1.5: $(aim "$r" 1.5))"
r=$(ratio "$m_fl" "$m_gb"); echo "full export memory:  ${r}x git bundle (aim <= 1.5: $(aim "$r" 1.5))"
r=$(ratio "$s_fl" "$s_gb"); echo "full export size:    ${r}x git bundle (aim <= 1.05: $(aim "$r" 1.05))"
r=$(ratio "$t_fi" "$t_gi"); echo "incremental export:  ${r}x git bundle (aim <= 2, or <= 0.5 s: $(aim "$r" 2)$(
	[ "$(echo "$t_fi <= 0.5" | bc -l)" = 1 ] && echo ", under 0.5 s"))"
r=$(ratio "$s_fi" "$s_gi"); echo "incremental size:    ${r}x git bundle (aim <= 1.05: $(aim "$r" 1.05))"
r=$(ratio "$t_if" "$t_gc"); echo "full import:         ${r}x git clone --mirror (aim <= 1.3: $(aim "$r" 1.3)); $(ratio "$t_if" "$t_ip")x git index-pack"
r=$(ratio "$m_if" "$m_ip"); echo "full import memory:  ${r}x git index-pack (aim <= 1.5: $(aim "$r" 1.5))"
r=$(ratio "$t_ii" "$t_gf"); echo "incremental import:  ${r}x git fetch of the bundle"
