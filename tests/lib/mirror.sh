# Start and stop `ferry mirror serve` for tests (sourced).
#   mirror_start STORE [ARGS...]   sets MIRROR_PORT, MIRROR_PID, MIRROR_URL
#   mirror_stop
#   mirror_store STORE LAYOUT      LAYOUT as library/app
#   mirror_store_names STORE LAYOUT NAME [LAYOUT NAME]...
mirror_start() {
	local store=$1 i
	shift
	rm -f "$T/mirror.port"
	"$FERRY" mirror serve --store "$store" --listen 127.0.0.1:0 \
		--port-file "$T/mirror.port" "$@" 2>"$T/mirror.log" &
	MIRROR_PID=$!
	for i in $(seq 1 100); do
		[ -s "$T/mirror.port" ] && break
		kill -0 "$MIRROR_PID" 2>/dev/null || { cat "$T/mirror.log" >&2; return 1; }
		sleep 0.05
	done
	[ -s "$T/mirror.port" ] || { cat "$T/mirror.log" >&2; return 1; }
	MIRROR_PORT=$(cat "$T/mirror.port")
	MIRROR_URL=http://127.0.0.1:$MIRROR_PORT
}

mirror_stop() {
	[ -n "${MIRROR_PID:-}" ] || return 0
	kill "$MIRROR_PID" 2>/dev/null || true
	wait "$MIRROR_PID" 2>/dev/null || true
	MIRROR_PID=
}

# A store in $1 holding the fixture layout $2 (imported on channel "demo").
mirror_store() {
	mirror_store_names "$1" "$2" library/app
}

# mirror_store_names STORE LAYOUT NAME [LAYOUT NAME]...: a store holding each
# layout under its name, from one bundle on channel "demo" (key $T/mkey).
mirror_store_names() {
	local store=$1
	shift
	"$FERRY" keygen -o "$T/mkey" >/dev/null
	{
		printf 'channel: demo\nsources:\n'
		while [ $# -ge 2 ]; do
			printf '  - oci-layout: %s\n    name: %s\n' "$1" "$2"
			shift 2
		done
	} >"$T/mspec.yaml"
	mkdir -p "$T/mout"
	"$FERRY" export -q --spec "$T/mspec.yaml" --key "$T/mkey.key" --out "$T/mout" --state "$T/mstate.db" >/dev/null
	"$FERRY" trust init --store "$store" --key "$T/mkey.pub" >/dev/null
	"$FERRY" import -q --store "$store" "$T"/mout/*.tar
}

# The git repository $T/src exported on channel "git" as platform/deploy:
#   mirror_git_channel   key $T/k, spec $T/spec.yaml, bundles in $T/bundles
#   mirror_git_export    one (incremental) export into $T/bundles
mirror_git_channel() {
	"$FERRY" keygen -o "$T/k" >/dev/null
	printf 'channel: git\nsources:\n  - git: src\n    name: platform/deploy\n' >"$T/spec.yaml"
	mkdir -p "$T/bundles"
}
mirror_git_export() {
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache" >/dev/null || fail "export failed"
}

# mirror_big_repo DIR MIB [BLOB_KIB]: a git repository of about MIB MiB of
# random (incompressible) blobs of BLOB_KIB KiB (default 1024), in commits
# of eight blobs each on branch main, written with git fast-import.
mirror_big_repo() {
	local dir=$1 mib=$2 kib=${3:-1024}
	git init -q -b main "$dir"
	python3 - "$mib" "$kib" <<'PY' | git -C "$dir" fast-import --quiet
import os, sys
mib, kib = int(sys.argv[1]), int(sys.argv[2])
n = max(1, mib * 1024 // kib)
out = sys.stdout.buffer
for i in range(n):
    data = os.urandom(kib * 1024)
    out.write(b"blob\nmark :%d\ndata %d\n" % (i + 1, len(data)) + data + b"\n")
for c in range(0, n, 8):
    msg = b"blobs %d" % c
    out.write(b"commit refs/heads/main\ncommitter t <t@example.com> %d +0000\n" % (1700000000 + c))
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    for i in range(c, min(n, c + 8)):
        out.write(b"M 100644 :%d data/%05d.bin\n" % (i + 1, i))
PY
}
