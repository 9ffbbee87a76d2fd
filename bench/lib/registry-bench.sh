# Shared setup of the registry benchmarks (sourced after `top`, SIZE_MIB,
# WORK, FERRY and `die` are set; extra tools to require in BENCH_TOOLS):
# checks the tools, makes the scratch directory, loads the OCI fixtures and
# the docker-registry helpers, copies ferry into the scratch directory, sets
# up skopeo with an accept-anything policy (SK), and makes two images of
# SIZE_MIB MiB together in $WORK/img1 and $WORK/img2. The cleanup stops the
# registry in $WORK/reg and removes $WORK unless KEEP=1.
[ -x "$FERRY" ] || die "no ferry binary at $FERRY (build it first)"
for t in docker-registry skopeo jq sha256sum curl ${BENCH_TOOLS:-}; do
	command -v "$t" >/dev/null || die "missing $t"
done
if [ -z "$WORK" ]; then
	WORK=$(mktemp -d /var/tmp/ferry-bench.XXXXXX)
else
	mkdir -p "$WORK"
	[ -z "$(ls -A "$WORK")" ] || die "$WORK is not empty"
fi
T=$WORK
. "$top/tests/lib/oci-fixture.sh"
. "$top/tests/lib/registry.sh"
cleanup() {
	registry_stop "$WORK/reg" || true
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
cp "$FERRY" "$WORK/ferry"
FERRY=$WORK/ferry
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$WORK/policy.json"
SK=(skopeo --policy "$WORK/policy.json")

now() { date +%s.%N; }
echo "setup: 2 images, $SIZE_MIB MiB of payload, docker-registry on 127.0.0.1"
half=$((SIZE_MIB / 2))
make_big_oci_layout "$WORK/img1" "$half" >/dev/null
make_big_oci_layout "$WORK/img2" "$((SIZE_MIB - half))" >/dev/null
