#!/usr/bin/env bash
# A seed killed with SIGKILL, again and again, at different points (during
# blob HEADs, uploads and chunks, manifest and tag PUTs), converges when run
# again; after every kill, every tag on the registry names complete content.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/seed.sh"
need docker-registry jq curl umoci

make_oci_layout "$T/layout" 1024
seed_add_referrer "$T/layout" v1
seed_store "$T/store" "$T/layout" library/app team/tools
registry_start "$T/reg"
at_exit "registry_stop '$T/reg'"
reg=$REGISTRY_ADDR
# Small chunks, so large blobs go in many PATCH requests that a kill splits.
"$FERRY" target add reg --store "$T/store" --kind oci --url "http://$reg" --chunk-size 128K >/dev/null

# fresh_registry: an empty registry as target "reg", in small chunks.
fresh_registry() {
	registry_stop "$T/reg"
	rm -rf "$T/reg"
	registry_start "$T/reg"
	reg=$REGISTRY_ADDR
	"$FERRY" target add reg --replace --store "$T/store" --kind oci --url "http://$reg" \
		--chunk-size 128K >/dev/null
}

check_all() {
	seed_check_registry "$reg" library/app
	seed_check_registry "$reg" team/tools
}

kills=0 point=2 runs=0
while :; do
	runs=$((runs + 1))
	[ "$runs" -lt 200 ] || fail "no convergence after $runs runs"
	rc=0
	FERRY_HTTP_KILL_AFTER=$point "$FERRY" seed -q -v --store "$T/store" 2>"$T/err" || rc=$?
	cat "$T/err" >>"$T/kills.log"
	if [ "$rc" = 137 ] || [ "$rc" = $((128 + 9)) ]; then
		kills=$((kills + 1))
		check_all
		# Each run dies a little later than the one before (3 to 7
		# requests), so kills land on HEADs, uploads, chunks, manifest
		# and tag PUTs in turn, and the seed still gets to the end.
		point=$((point + 3 + kills % 5))
		continue
	fi
	[ "$rc" = 0 ] || { cat "$T/err" >&2; fail "seed failed with $rc after $kills kills"; }
	[ "$kills" -ge 20 ] && break
	# Converged before 20 kills: start over on an empty registry.
	point=$((kills + 2))
	fresh_registry
done
ok "killed with SIGKILL $kills times at varied points; every tag was complete after each kill"

# Resume: on an empty registry, each run dies one request later than the
# one before, so some run dies between two chunks of an upload (before a
# PATCH is sent, or after it was answered) and the next one continues it.
fresh_registry
: >"$T/resume.log"
point=1
until grep -q 'resuming the upload at byte' "$T/resume.log"; do
	point=$((point + 1))
	[ "$point" -lt 300 ] || fail "no chunked upload was ever resumed"
	rc=0
	FERRY_HTTP_KILL_AFTER=$point "$FERRY" seed -q -v --store "$T/store" 2>>"$T/resume.log" || rc=$?
	[ "$rc" = 0 ] && fail "the seed finished without resuming an upload"
	[ "$rc" = 137 ] || { tail "$T/resume.log" >&2; fail "seed failed with $rc"; }
done
expect_exit 0 "$FERRY" seed -q --store "$T/store"
check_all
ok "an interrupted chunked upload resumed where the registry said it stood (kill point $point)"

# Some kills from outside at arbitrary moments, too.
for delay in 0.02 0.05 0.1 0.15 0.2; do
	"$FERRY" target add reg --replace --store "$T/store" --kind oci --url "http://$reg" \
		--chunk-size 128K >/dev/null
	registry_stop "$T/reg"; rm -rf "$T/reg"; registry_start "$T/reg"; reg=$REGISTRY_ADDR
	"$FERRY" target add reg --replace --store "$T/store" --kind oci --url "http://$reg" \
		--chunk-size 128K >/dev/null
	"$FERRY" seed -q --store "$T/store" 2>/dev/null & pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	check_all
	"$FERRY" seed -q --store "$T/store" || fail "re-run after kill -9 at ${delay}s failed"
	check_all
done
ok "kill -9 from outside at 5 moments; each re-run converged"

"$FERRY" seed --store "$T/store" --json >"$T/final.json" || fail "final seed failed"
[ "$(seed_json_field "$T/final.json" reg blobsPushed)" = 0 ] || fail "the converged registry still needed blobs"
while IFS=$'\t' read -r ref digest; do
	case $ref in *@*) continue ;; esac
	got=$(curl -sf -H "Accept: $_seed_accept" "http://$reg/v2/${ref%:*}/manifests/${ref##*:}" | sha256sum | cut -d' ' -f1)
	[ "sha256:$got" = "$digest" ] || fail "$ref is sha256:$got on the registry, $digest in the store"
done < <(jq -r '.manifests[] | [.annotations["org.opencontainers.image.ref.name"], .digest] | @tsv' "$T/store/index.json")
ok "converged: every tag matches the store and nothing is left to send"
