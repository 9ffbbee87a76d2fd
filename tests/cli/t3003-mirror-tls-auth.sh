#!/usr/bin/env bash
# The mirror with TLS and read credentials: HTTPS with a certificate the
# client trusts, Basic auth with a bcrypt htpasswd entry (401 without or
# with wrong credentials; health endpoints stay open), skopeo pulling with
# credentials over TLS, and a bad credentials file refused at start.
. "$(dirname "$0")/../lib/test-lib.sh"
need skopeo jq curl openssl umoci
. "$SRC/tests/lib/oci-fixture.sh"
. "$SRC/tests/lib/registry.sh"
. "$SRC/tests/lib/mirror.sh"

make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
mirror_store "$T/store" "$T/layout"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 ||
	fail "cannot make a certificate"
registry_htpasswd "$T/htpasswd" reader 's3cret pass' || fail "htpasswd"
# a second user with an argon2id hash
if command -v argon2 >/dev/null; then
	printf 'argonaut:%s\n' "$(printf 'pw2' | argon2 ferrysaltvalue -id -t 2 -m 12 -p 1 -e)" >>"$T/htpasswd"
fi

mirror_start "$T/store" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --htpasswd "$T/htpasswd" ||
	fail "mirror did not start"
at_exit mirror_stop
U=https://127.0.0.1:$MIRROR_PORT
code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "$@"; }
[ "$(code "$U/healthz")" = 200 ] || fail "healthz over TLS"
[ "$(code "$U/v2/")" = 401 ] || fail "no credentials accepted"
curl -s -D - -o /dev/null --cacert "$T/cert.pem" "$U/v2/" | grep -qi '^www-authenticate: Basic' || fail "no challenge"
[ "$(code -u 'reader:wrong' "$U/v2/")" = 401 ] || fail "wrong password accepted"
[ "$(code -u 'nobody:s3cret pass' "$U/v2/")" = 401 ] || fail "unknown user accepted"
[ "$(code -u 'reader:s3cret pass' "$U/v2/")" = 200 ] || fail "right credentials refused"
if command -v argon2 >/dev/null; then
	[ "$(code -u 'argonaut:pw2' "$U/v2/")" = 200 ] || fail "argon2id credentials refused"
	[ "$(code -u 'argonaut:pw3' "$U/v2/")" = 401 ] || fail "wrong argon2id password accepted"
fi
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MIRROR_PORT/v2/")" = 000 ] || true
ok "TLS; 401 with a Basic challenge without or with wrong credentials, 200 with the right ones (bcrypt and argon2id)"

mkdir -p "$T/certs" && cp "$T/cert.pem" "$T/certs/ca.crt"
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
skopeo --policy "$T/policy.json" copy -q --all --src-cert-dir "$T/certs" --src-creds 'reader:s3cret pass' \
	"docker://127.0.0.1:$MIRROR_PORT/library/app:multi" "oci:$T/back:multi" || fail "skopeo over TLS with credentials"
want=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "multi") | .digest' "$T/layout/index.json")
[ "sha256:$(skopeo inspect --raw "oci:$T/back:multi" | sha256sum | cut -d' ' -f1)" = "$want" ] || fail "digest differs"
if skopeo --policy "$T/policy.json" copy -q --src-cert-dir "$T/certs" \
	"docker://127.0.0.1:$MIRROR_PORT/library/app:v1" "oci:$T/back2:v1" 2>/dev/null; then
	fail "skopeo pulled without credentials"
fi
ok "skopeo pulls over TLS with credentials (identical digest), and not without"
mirror_stop

printf 'reader:plaintext\n' >"$T/bad-htpasswd"
expect_exit 1 "$FERRY" mirror serve --store "$T/store" --listen 127.0.0.1:0 --htpasswd "$T/bad-htpasswd"
expect_err "bcrypt"
expect_exit 1 "$FERRY" mirror serve --store "$T/store" --listen 127.0.0.1:0 --tls-cert "$T/cert.pem"
expect_err "TLS needs both a certificate and a key"
expect_exit 64 "$FERRY" mirror serve --store "$T/store"
expect_exit 1 "$FERRY" mirror serve --store "$T/nostore" --listen 127.0.0.1:0
expect_err "is not a ferry store"
ok "a plaintext password file, half a TLS setup, a missing --listen and a missing store are refused"
