#!/usr/bin/env bash
# Seeding OCI registries: two real docker-registry instances on 127.0.0.1,
# one open and one behind htpasswd (Basic) auth. Everything the store holds
# arrives with identical digests (checked with skopeo), names are rewritten,
# blobs shared between repositories are mounted, referrers get the tag
# schema fallback, and a second seed sends no blob.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/seed.sh"
need docker-registry skopeo umoci jq curl

make_oci_layout "$T/layout" 512
seed_add_referrer "$T/layout" v1
seed_store "$T/store" "$T/layout" library/app team/tools
ok "store with two repositories sharing blobs"

registry_start "$T/open"
at_exit "registry_stop '$T/open'"
open=$REGISTRY_ADDR
registry_htpasswd "$T/htpasswd" alice 's3cr3t-pass'
registry_start "$T/auth" "$T/htpasswd"
at_exit "registry_stop '$T/auth'"
auth=$REGISTRY_ADDR

printf 'alice:s3cr3t-pass\n' >"$T/creds"
"$FERRY" target add open --store "$T/store" --kind oci --url "http://$open" \
	--rewrite library/=mirror.site/base/ --chunk-size 256K >/dev/null
"$FERRY" target add secure --store "$T/store" --kind oci --url "http://$auth" \
	--credentials "$T/creds" >/dev/null
[ "$(stat -c %a "$T/store/targets/secure.cred")" = 600 ] || fail "credentials are not mode 0600"
expect_exit 0 "$FERRY" target show secure --store "$T/store"
! grep -q s3cr3t "$T/out" "$T/err" || fail "target show printed the password"
expect_exit 0 "$FERRY" target ls --json --store "$T/store"
! grep -q s3cr3t "$T/out" || fail "target ls printed the password"
expect_exit 1 "$FERRY" target add open --store "$T/store" --kind oci --url "http://$open"
expect_err "exists"
expect_exit 1 "$FERRY" target add bad --store "$T/store" --kind oci --url "ftp://x"
expect_exit 1 "$FERRY" target add bad --store "$T/store" --kind oci --url "http://x" --prune
expect_err "does not apply"
ok "targets: added, credentials 0600 and never shown, bad ones refused"

"$FERRY" seed --store "$T/store" --json -v >"$T/seed1.json" 2>"$T/seed1.log" ||
	{ cat "$T/seed1.json" "$T/seed1.log" >&2; fail "first seed failed"; }
! grep -q s3cr3t "$T/seed1.json" "$T/seed1.log" || fail "the seed logged the password"
[ "$(seed_json_field "$T/seed1.json" open blobsPushed)" -gt 0 ] || fail "nothing pushed"
[ "$(seed_json_field "$T/seed1.json" secure blobsPushed)" -gt 0 ] || fail "nothing pushed (auth)"
[ "$(seed_json_field "$T/seed1.json" open blobsMounted)" -gt 0 ] ||
	{ cat "$T/seed1.json" >&2; fail "shared blobs were not mounted across repositories"; }
grep -q 'resuming\|pushed' "$T/seed1.log" || fail "no log of pushed blobs"
ok "first seed pushed to both registries, mounting shared blobs"

# Every reference in the store, with the same digest, on both registries.
export REGISTRY_AUTH_FILE=$T/none.json
n=0
while IFS=$'\t' read -r ref digest; do
	case $ref in *@*) continue ;; esac
	name=${ref%:*} tag=${ref##*:}
	case $name in library/*) oname=base/${name#library/} ;; *) oname=$name ;; esac
	got=$(skopeo inspect --raw --tls-verify=false "docker://$open/$oname:$tag" | sha256sum | cut -d' ' -f1)
	[ "sha256:$got" = "$digest" ] || fail "$oname:$tag on the open registry is sha256:$got, the store has $digest"
	got=$(skopeo inspect --raw --tls-verify=false --creds alice:s3cr3t-pass "docker://$auth/$name:$tag" | sha256sum | cut -d' ' -f1)
	[ "sha256:$got" = "$digest" ] || fail "$name:$tag on the auth registry is sha256:$got, the store has $digest"
	n=$((n + 1))
done < <(jq -r '.manifests[] | [.annotations["org.opencontainers.image.ref.name"], .digest] | @tsv' "$T/store/index.json")
[ "$n" -ge 6 ] || fail "only $n tags checked"
seed_check_registry --require "$open" base/app
seed_check_registry --require "$open" team/tools
seed_check_registry --require "$auth" library/app -u alice:s3cr3t-pass
ok "skopeo inspect --raw shows the store's digests for all $n tags, on both registries"

# Stock skopeo copies the whole multi-arch image out of the seeded registry.
skopeo copy -q --all --src-tls-verify=false "docker://$open/base/app:multi" "oci:$T/copy:multi" >/dev/null
ok "skopeo copy --all of the seeded multi-arch image works"

# The referrer: its own tag, and the referrers tag schema index.
v1=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "library/app:v1") | .digest' "$T/store/index.json")
sbom=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "library/app:v1-sbom") | .digest' "$T/store/index.json")
curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' \
	"http://$open/v2/base/app/manifests/sha256-${v1#sha256:}" >"$T/refidx.json" ||
	fail "no referrers tag schema index for v1"
jq -e --arg d "$sbom" '.manifests[] | select(.digest == $d and .artifactType == "application/spdx+json")' "$T/refidx.json" >/dev/null ||
	{ cat "$T/refidx.json" >&2; fail "the referrers index does not list the SBOM"; }
ok "referrers: tag schema fallback index lists the artifact"

"$FERRY" seed --store "$T/store" --json >"$T/seed2.json" || fail "second seed failed"
for t in open secure; do
	[ "$(seed_json_field "$T/seed2.json" $t blobsPushed)" = 0 ] || fail "second seed pushed blobs to $t"
	[ "$(seed_json_field "$T/seed2.json" $t bytesSent)" = 0 ] || fail "second seed sent bytes to $t"
	[ "$(seed_json_field "$T/seed2.json" $t tagsSet)" = 0 ] || fail "second seed moved tags on $t"
done
"$FERRY" seed --store "$T/store" --full --json >"$T/seed3.json" || fail "full seed failed"
for t in open secure; do
	[ "$(seed_json_field "$T/seed3.json" $t blobsPushed)" = 0 ] || fail "--full pushed blobs to $t"
	[ "$(seed_json_field "$T/seed3.json" $t blobsPresent)" -gt 0 ] || fail "--full did not check blobs on $t"
done
ok "a second seed (and a --full one, which HEADs everything) sends no blob"

# Wrong credentials: a clear failure naming the registry, no secret shown.
printf 'alice:wrong\n' >"$T/badcreds"
"$FERRY" target add secure --replace --store "$T/store" --kind oci --url "http://$auth" \
	--credentials "$T/badcreds" >/dev/null
expect_exit 1 "$FERRY" seed --store "$T/store" --target secure
expect_err "refused the credentials"
! grep -q wrong "$T/out" "$T/err" || fail "the password appeared in the output"
expect_exit 1 "$FERRY" seed --store "$T/store" --target nope
expect_err "no target 'nope'"
ok "refused credentials and unknown targets fail clearly"

# Credentials as a docker/podman auth.json: the entry for this registry.
printf '{"auths": {"other.example": {"auth": "%s"}, "%s": {"auth": "%s"}}}\n' \
	"$(printf 'x:y' | base64)" "$auth" "$(printf 'alice:s3cr3t-pass' | base64)" >"$T/auth.json"
"$FERRY" target add secure --replace --store "$T/store" --kind oci --url "http://$auth" \
	--credentials "$T/auth.json" >/dev/null
expect_exit 0 "$FERRY" seed --store "$T/store" --target secure --full --json
jq -e '.targets[0].ok' "$T/out" >/dev/null || fail "seed with auth.json: $(cat "$T/out")"
printf '{"auths": {"%s": {"auth": "not base64!"}}}\n' "$auth" >"$T/auth.json"
"$FERRY" target add secure --replace --store "$T/store" --kind oci --url "http://$auth" \
	--credentials "$T/auth.json" >/dev/null
expect_exit 1 "$FERRY" seed --store "$T/store" --target secure
expect_err "is not base64 of user:password"
ok "auth.json credentials: the registry's entry is used; a malformed one is named"

# node-config for the open target.
expect_exit 0 "$FERRY" target node-config open --store "$T/store"
expect_out "location = \"$open\""
"$FERRY" target add dh --store "$T/store" --kind oci --url "http://$open" --host mirror.site \
	--rewrite docker.io/library/=mirror.site/library/ >/dev/null
expect_exit 0 "$FERRY" target node-config dh --store "$T/store"
expect_out 'prefix = "docker.io/library"'
expect_out 'location = "mirror.site/library"'
expect_out '/etc/containerd/certs.d/docker.io/hosts.toml'
expect_out '[host."http://mirror.site"]'
expect_exit 0 "$FERRY" target rm dh --store "$T/store"
[ ! -e "$T/store/targets/dh.cred" ] || fail "rm left credentials"
ok "node-config emits registries.conf and hosts.toml"
