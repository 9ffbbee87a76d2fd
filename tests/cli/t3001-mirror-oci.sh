#!/usr/bin/env bash
# The mirror serves the store to stock clients: skopeo copies the single-arch
# image, the multi-arch index and the Helm chart to oci: layouts with
# identical digests; tags/list and _catalog paginate; blobs honour Range;
# a blob or manifest whose file has the wrong size is refused (500 and a
# log line), never sent under its digest.
# Hostile requests get the right status while a well-behaved client on
# another loopback address is still served: traversal in names, bad digests,
# huge headers, bad ranges, writes, slow clients holding connections, and a
# per-client request rate.
. "$(dirname "$0")/../lib/test-lib.sh"
need skopeo jq curl umoci
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/mirror.sh"

make_oci_layout "$T/layout" 512 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
mirror_store "$T/store" "$T/layout"
mirror_start "$T/store" --access-log "$T/access.log" --max-per-client 8 --idle-timeout 2 || fail "mirror did not start"
at_exit mirror_stop
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
SK=(skopeo --policy "$T/policy.json")
src_digest() { jq -r --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$T/layout/index.json"; }

for tag in v1 multi chart; do
	"${SK[@]}" copy -q --all --src-tls-verify=false "docker://127.0.0.1:$MIRROR_PORT/library/app:$tag" "oci:$T/back:$tag" ||
		fail "skopeo cannot copy $tag from the mirror"
	got=sha256:$(skopeo inspect --raw "oci:$T/back:$tag" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$(src_digest "$tag")" ] || fail "$tag came back as $got"
done
for f in "$T"/back/blobs/sha256/*; do
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "pulled blob $f is corrupt"
done
ok "skopeo pulls v1, the multi-arch index (all platforms) and the chart with identical digests"

code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
hdr() { curl -s -D - -o /dev/null "$@" | tr -d '\r'; }
M=$MIRROR_URL
d=$(src_digest v1)
[ "$(code -I "$M/v2/library/app/manifests/v1")" = 200 ] || fail "HEAD manifest"
h=$(hdr -I "$M/v2/library/app/manifests/v1")
grep -qi "^docker-content-digest: $d" <<<"$h" || fail "no Docker-Content-Digest: $h"
grep -qi '^content-type: application/vnd.oci.image.manifest.v1+json' <<<"$h" || fail "media type: $h"
grep -qi "^content-length: $(stat -c %s "$T/layout/blobs/sha256/${d#sha256:}")" <<<"$h" || fail "length: $h"
ok "HEAD of a manifest: stored media type, Docker-Content-Digest, Content-Length"

[ "$(code "$M/v2/_catalog")" = 200 ] && [ "$(jq -r '.repositories[0]' "$T/body")" = library/app ] || fail "catalog"
[ "$(code "$M/v2/library/app/tags/list?n=2")" = 200 ] || fail "tags/list"
[ "$(jq -c .tags "$T/body")" = '["chart","multi"]' ] || fail "first page: $(cat "$T/body")"
[ "$(code "$M/v2/library/app/tags/list?n=2&last=multi")" = 200 ] || fail "tags/list page 2"
[ "$(jq -c .tags "$T/body")" = '["v1"]' ] || fail "second page: $(cat "$T/body")"
hdr "$M/v2/library/app/tags/list?n=1" | grep -qi '^link: </v2/library/app/tags/list?n=1&last=chart>; rel="next"' ||
	fail "no Link header for the next page"
ok "_catalog and tags/list with n/last pagination and a Link header"

layer=$(jq -r '.layers[-1].digest' "$T/layout/blobs/sha256/${d#sha256:}")
size=$(stat -c %s "$T/layout/blobs/sha256/${layer#sha256:}")
[ "$(code -r 10-19 "$M/v2/library/app/blobs/$layer")" = 206 ] || fail "range not honoured"
cmp -s "$T/body" <(tail -c +11 "$T/layout/blobs/sha256/${layer#sha256:}" | head -c 10) || fail "range body differs"
hdr -r 10-19 "$M/v2/library/app/blobs/$layer" | grep -qi "^content-range: bytes 10-19/$size" || fail "content-range"
[ "$(code -r -5 "$M/v2/library/app/blobs/$layer")" = 206 ] && [ "$(stat -c %s "$T/body")" = 5 ] || fail "suffix range"
[ "$(code -r "$size-" "$M/v2/library/app/blobs/$layer")" = 416 ] || fail "range past the end"
[ "$(code -r bytes-x "$M/v2/library/app/blobs/$layer")" = 200 ] || true
[ "$(code -H 'Range: bytes=9-3' "$M/v2/library/app/blobs/$layer")" = 416 ] || fail "inverted range"
ok "blob Range: partial content, suffix ranges, 416 for unsatisfiable ranges"

[ "$(code "$M/v2/library/app/manifests/nope")" = 404 ] && jq -e '.errors[0].code == "MANIFEST_UNKNOWN"' "$T/body" >/dev/null || fail "unknown tag"
[ "$(code "$M/v2/no/such/manifests/v1")" = 404 ] && jq -e '.errors[0].code == "NAME_UNKNOWN"' "$T/body" >/dev/null || fail "unknown name"
[ "$(code --path-as-is "$M/v2/../../etc/passwd/manifests/v1")" = 400 ] || [ "$(code --path-as-is "$M/v2/../../etc/passwd/manifests/v1")" = 404 ] || fail "traversal"
[ "$(code "$M/v2/library/App/manifests/v1")" = 400 ] && jq -e '.errors[0].code == "NAME_INVALID"' "$T/body" >/dev/null || fail "bad name"
[ "$(code "$M/v2/library/app/blobs/sha256:1234")" = 400 ] && jq -e '.errors[0].code == "DIGEST_INVALID"' "$T/body" >/dev/null || fail "bad digest"
[ "$(code "$M/v2/library/app/blobs/sha256:$(printf '0%.0s' $(seq 64))")" = 404 ] || fail "unknown blob"
[ "$(code "$M/v2/library/app/manifests/..%2F..%2Fferry.db")" = 400 ] || fail "encoded traversal in a reference"
for method in PUT POST DELETE PATCH; do
	[ "$(code -X "$method" "$M/v2/library/app/manifests/v1")" = 405 ] || fail "$method allowed"
done
ok "unknown, invalid, traversing names and digests, and every write are refused with the spec's errors"

big=$(head -c 40000 /dev/zero | tr '\0' a)
c=$(code -H "X-Big: $big" "$M/v2/")
[ "$c" = 431 ] || [ "$c" = 413 ] || [ "$c" = 400 ] || fail "huge header answered $c"
[ "$(code "$M/v2/")" = 200 ] || fail "server unwell after a huge header"
ok "a huge request header is refused ($c) and the server keeps serving"

# Slow clients: hold connections open with half a request line from one
# address; a client on another loopback address is served meanwhile, and
# the slow ones are closed after the idle timeout.
slow_pids=()
for i in $(seq 1 12); do
	( exec 3<>/dev/tcp/127.0.0.1/"$MIRROR_PORT"; printf 'GET /v2/ HTTP/1.1\r\n' >&3; sleep 6 ) 2>/dev/null &
	slow_pids+=($!)
done
sleep 0.5
[ "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$M/v2/library/app/manifests/v1")" = 200 ] ||
	fail "a well-behaved client was not served while slow clients held connections"
busy=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$M/v2/" || true)
sleep 3
[ "$(code "$M/v2/")" = 200 ] || fail "server not serving after the slow clients timed out"
kill "${slow_pids[@]}" 2>/dev/null || true
wait "${slow_pids[@]}" 2>/dev/null || true
ok "slow clients do not block others (per-client limit, idle timeout; same-address request got '$busy')"

jq -s -e 'map(select(.status == 206)) | length > 0' "$T/access.log" >/dev/null || fail "access log lacks the range request"
[ "$(code "$M/metrics")" = 200 ] || fail "metrics"
grep -q '^ferry_mirror_requests_total{code="200"} [1-9]' "$T/body" || fail "metrics lack request counts"
grep -q '^ferry_mirror_request_duration_seconds_count [1-9]' "$T/body" || fail "metrics lack the latency histogram"
[ "$(code "$M/healthz")" = 200 ] && [ "$(code "$M/readyz")" = 200 ] || fail "health endpoints"
[ "$(code -X POST "$M/_ferry/notify")" = 200 ] && [ "$(code "$M/_ferry/notify")" = 405 ] || fail "notify endpoint"
ok "access log (JSON lines), /metrics (Prometheus), /healthz and /readyz, POST /_ferry/notify"

mirror_stop
mirror_start "$T/store" --rate 5 || fail "mirror did not restart"
M=$MIRROR_URL
# One curl process sends the 20 requests back to back on one connection,
# so a loaded machine cannot space them out beyond the refill rate.
burst=()
for i in $(seq 1 20); do burst+=(-o /dev/null "$M/v2/"); done
codes=$(curl -s -w '%{http_code}\n' "${burst[@]}" | sort | uniq -c | tr '\n' ' ')
grep -q 429 <<<"$codes" || fail "no 429 under a rate of 5/s: $codes"
[ "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.3 "$M/v2/")" = 200 ] || fail "another client is throttled too"
ok "a per-client request rate answers 429 and leaves other clients alone ($codes)"

# ---- a blob whose file has the wrong size is never served ------------------------
mirror_stop
mirror_start "$T/store" || fail "mirror did not restart"
M=$MIRROR_URL
H=$T/store/blobs/sha256
v1=$(src_digest v1) chart=$(src_digest chart)
layer=$(jq -r '.layers[1].digest' "$H/${v1#sha256:}")
good=$(jq -r '.layers[0].digest' "$H/${v1#sha256:}")
cfg=$(jq -r '.config.digest' "$H/${v1#sha256:}")
truncate -s -1 "$H/${layer#sha256:}"     # a truncated layer
printf 'x' >>"$H/${cfg#sha256:}"         # a grown config
truncate -s 100 "$H/${chart#sha256:}"    # a truncated manifest
for u in "blobs/$layer" "blobs/$cfg" manifests/chart "manifests/$chart"; do
	[ "$(code -I "$M/v2/library/app/$u")" = 500 ] || fail "HEAD $u of the wrong size answered $(cat "$T/body")"
	got=$(code "$M/v2/library/app/$u")
	[ "$got" = 500 ] || fail "GET $u of the wrong size answered $got"
done
jq -e '.errors[0].code == "UNKNOWN"' "$T/body" >/dev/null || fail "error body: $(cat "$T/body")"
[ "$(code "$M/v2/library/app/blobs/$good")" = 200 ] || fail "an intact layer is not served"
for d in "$layer" "$cfg" "$chart"; do
	grep -q "not serving blob $d: its file has" "$T/mirror.log" || { cat "$T/mirror.log" >&2; fail "no log line for $d"; }
done
ok "a layer, config or manifest whose file has another size than its descriptor says answers 500 with a log line"
