#!/usr/bin/env bash
# Export jobs: `ferry export --job NAME` takes its options from
# NAME.yaml in the job directory (--job-dir, FERRY_EXPORT_JOBS), with paths
# relative to the file; command-line options override the file's; keys may
# be a list (t-of-n); a malformed job (unknown or repeated key, missing
# spec or key, both out and outbox, a bad value, a name that is a path)
# exports nothing and names the file and line.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq sha256sum

J=$T/jobs
mkdir -p "$J/files" "$T/outbox" "$T/other"
head -c 50000 /dev/urandom >"$J/files/a.bin"
"$FERRY" keygen -o "$J/k1" >/dev/null
"$FERRY" keygen -o "$J/k2" >/dev/null
printf 'channel: c\nsources:\n  - file: files\n    name: tools/files\n    tag: v1\n' >"$J/site-a.spec.yaml"
cat >"$J/site-a.yaml" <<EOF
# the job of site A
spec: site-a.spec.yaml
key: [k1.key, $J/k2.key]
outbox: $T/outbox
checksums: true
if-changed: true
state: $T/state.db
cache: cache
EOF

# ---- a job runs with its file's options -----------------------------------------------
expect_exit 0 "$FERRY" export -q --job site-a --job-dir "$J" --json
[ "$(jq -r '.sequence' "$T/out")" = 1 ] || fail "--json: $(cat "$T/out")"
[ -f "$T/outbox/ferry-c-000001.tar.sha256" ] || fail "outbox: $(ls "$T/outbox")"
(cd "$T/outbox" && sha256sum -c --quiet ferry-c-000001.tar.sha256) || fail "checksum"
[ -d "$J/cache" ] || fail "the relative cache path was not taken from the job's directory"
expect_exit 0 "$FERRY" verify --trust-key "$J/k1.pub" --trust-key "$J/k2.pub" --threshold 2 \
	"$T/outbox/ferry-c-000001.tar"
ok "--job: spec, both keys (threshold 2 verifies), outbox with checksums, relative paths from the job file"

# ---- if-changed from the file; FERRY_EXPORT_JOBS ------------------------------------------
FERRY_EXPORT_JOBS=$J expect_exit 3 "$FERRY" export -q --job site-a
expect_out "unchanged since sequence 1: nothing written"
head -c 1000 /dev/urandom >"$J/files/b.bin"
FERRY_EXPORT_JOBS=$J expect_exit 0 "$FERRY" export -q --job site-a
[ -f "$T/outbox/ferry-c-000002.tar" ] || fail "a change made no bundle 2"
ok "if-changed from the job: exit 3 while nothing changed, bundle 2 after a change (job found by FERRY_EXPORT_JOBS)"

# ---- the command line overrides the job ----------------------------------------------------
head -c 1000 /dev/urandom >"$J/files/c.bin"
expect_exit 0 "$FERRY" export -q --job site-a --job-dir "$J" --out "$T/other" --key "$J/k2.key"
[ -f "$T/other/ferry-c-000003.tar" ] && [ ! -e "$T/outbox/ferry-c-000003.tar" ] ||
	fail "--out did not replace the job's outbox: $(ls "$T/other" "$T/outbox")"
[ -e "$T/other/ferry-c-000003.tar.sha256" ] || fail "the job's checksums option was lost"
expect_exit 2 "$FERRY" verify --trust-key "$J/k1.pub" "$T/other/ferry-c-000003.tar"
expect_exit 0 "$FERRY" verify --trust-key "$J/k2.pub" "$T/other/ferry-c-000003.tar"
ok "options on the command line win: --out instead of the outbox, --key replaces the job's keys"

# ---- malformed jobs export nothing ---------------------------------------------------------
ls "$T/outbox" "$T/other" >"$T/before"
bad() {
	local name=$1 want=$2
	expect_exit 1 "$FERRY" export -q --job "$name" --job-dir "$J"
	grep -qF -- "$want" "$T/err" || fail "job $name: expected '$want' in: $(cat "$T/err")"
}
job() { printf 'spec: site-a.spec.yaml\nkey: k1.key\nstate: %s\n' "$T/state.db"; printf '%s\n' "$@"; }
job "out: $T/other" "sepc: x" >"$J/typo.yaml"
bad typo "$J/typo.yaml:5: unknown key 'sepc'"
job "out: $T/other" "out: $T/outbox" >"$J/twice.yaml"
bad twice "$J/twice.yaml:5: duplicate key 'out'"
job "out: $T/other" "outbox: $T/outbox" >"$J/both.yaml"
bad both "needs exactly one of 'out:' and 'outbox:'"
job >"$J/neither.yaml"
bad neither "needs exactly one of 'out:' and 'outbox:'"
printf 'key: k1.key\nout: %s\n' "$T/other" >"$J/nospec.yaml"
bad nospec "names no export spec"
printf 'spec: site-a.spec.yaml\nout: %s\n' "$T/other" >"$J/nokey.yaml"
bad nokey "names no signing key"
job "out: $T/other" "checksums: maybe" >"$J/bool.yaml"
bad bool "$J/bool.yaml:5: expected true or false for 'checksums'"
job "out: $T/other" "heartbeat: 1d" >"$J/beat.yaml"
bad beat "'heartbeat:' goes with 'if-changed: true'"
job "out: $T/other" "max-volume-size: lots" >"$J/size.yaml"
bad size "expected a size (e.g. 4G) for 'max-volume-size'"
printf -- '- spec: x\n' >"$J/list.yaml"
bad list "a job is a mapping of options"
bad missing "no export job 'missing' ($J/missing.yaml does not exist)"
expect_exit 1 "$FERRY" export -q --job ../site-a --job-dir "$J"
expect_err "'../site-a' is not a job name"
expect_exit 1 "$FERRY" export -q --job .hidden --job-dir "$J"
expect_exit 64 "$FERRY" export -q --job-dir "$J" --spec "$J/site-a.spec.yaml" --key "$J/k1.key" --out "$T/other"
ls "$T/outbox" "$T/other" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a malformed job wrote: $(diff "$T/before" "$T/after")"
ok "malformed jobs and job names that are paths are refused with file and line; nothing is written"


