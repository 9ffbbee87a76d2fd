#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# A registry with htpasswd basic auth: without credentials export names the
# registry and says what to give; wrong credentials are refused; an
# auth-file in the spec or --auth-file on the command line works; no
# secret ever appears in the output.
need docker-registry skopeo jq curl umoci sha256sum
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/registry-export.sh"

OCI_FIXTURE_CHART=0 make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
registry_htpasswd "$T/htpasswd" alice 's3cret-pw' || fail "htpasswd"
registry_start "$T/reg" "$T/htpasswd" || fail "could not start the registry"
at_exit "registry_stop '$T/reg'"
R=$REGISTRY_ADDR
PUSH_CREDS=alice:s3cret-pw push_layout "$T/layout" v1 "$R/team/app:v1"
V1=$(reg_digest "$R/team/app:v1" alice:s3cret-pw)
ok "registry with htpasswd auth on $R holds team/app:v1"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir "$T/bundles"
auth() { printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf '%s' "$1" | base64 -w0)"; }
auth alice:s3cret-pw >"$T/good.json"
auth alice:wrong-pw >"$T/bad.json"
spec() { printf 'channel: %s\nsources:\n  - image: %s/team/app:v1\n    insecure: true\n%s' "$1" "$R" "${2:-}" >"$T/$1.yaml"; }
run() { local want=$1 name=$2; shift 2
	expect_exit "$want" "$FERRY" export -q --spec "$T/$name.yaml" --key "$T/key.key" \
		--out "$T/bundles" --state "$T/state.db" --cache "$T/cache" "$@"
	! grep -q 's3cret-pw\|wrong-pw\|YWxpY2' "$T/out" "$T/err" || fail "a secret appeared in the output"
}

spec anon
run 1 anon
expect_err "image '$R/team/app:v1': registry '$R' wants credentials (Basic); give an auth-file with an entry for '$R'"
ok "without credentials: names the registry and asks for an auth-file"

spec wrong "    auth-file: bad.json
"
run 1 wrong
expect_err "image '$R/team/app:v1': registry '$R' refused the credentials (HTTP 401)"
ok "wrong credentials are refused, naming the image and the registry"

spec good "    auth-file: good.json
"
run 0 good
[ "$("$FERRY" inspect --json "$T/bundles/ferry-good-000001.tar" | jq -r '.images[0].digest')" = "$V1" ] || fail "bound digest"
ok "auth-file in the spec: exported, v1 bound to $V1"

spec cli
run 0 cli --auth-file "$T/good.json"
ok "--auth-file on the command line"

printf '{"auths":{"%s":{"username":"alice","password":"s3cret-pw"}}}' "$R" >"$T/userpass.json"
spec up "    auth-file: userpass.json
"
run 0 up
ok "auth-file with username and password fields"

printf '{"auths":{"%s":{"auth":"%%%%%%"}}}' "$R" >"$T/garbled.json"
spec garbled "    auth-file: garbled.json
"
run 1 garbled
expect_err "auth file '$T/garbled.json': the 'auth' of '$R' is not base64 of user:password"
ok "a malformed auth-file entry is named"
