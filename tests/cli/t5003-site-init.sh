#!/usr/bin/env bash
# ferry site init with --root into a scratch directory: the store and its
# trust root, the CA and the mirror's certificate (openssl verify, the
# names asked for), the read credentials, the mirror's settings and the
# unit's drop-in, the node configuration (registries.conf with a mirror
# entry per registry name the store holds, containerd hosts.toml per name,
# the CA for podman), the reconciler's default config kept when present,
# modes and (as root) owners. A mirror started from the written settings
# serves over TLS with the written credentials, and skopeo pulls from it
# trusting only the site's CA. A second run changes nothing and says so.
. "$(dirname "$0")/../lib/test-lib.sh"
need skopeo jq curl openssl umoci python3
. "$SRC/tests/lib/oci-fixture.sh"

R=$T/root
"$FERRY" keygen -o "$T/key" >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$R/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\nferry:x:998:998:ferry:/nonexistent:/usr/sbin/nologin\n' >"$R/etc/passwd"
	printf 'root:x:0:\nferry:x:998:\n' >"$R/etc/group"
fi
# An administrator's reconcile.yaml is there before.
mkdir -p "$R/etc/ferry"
printf 'store: /var/lib/ferry\nstacks: []\n# mine\n' >"$R/etc/ferry/reconcile.yaml"

init() { "$FERRY" site init --root "$R" --name 127.0.0.1 --name mirror.test --listen "127.0.0.1:$port" "$@"; }
expect_exit 1 init
expect_err "a new store needs the trust root's public keys"
expect_exit 0 init --trust "$T/key.pub" --registry quay.io
expect_out "wrote     /var/lib/ferry: the store and its trust root"
expect_out "kept      /etc/ferry/reconcile.yaml"
expect_out "todo      ferry-mirror.service"
expect_out "systemctl --root=$R enable ferry-mirror.service"
expect_out "todo      ferry-inbox.service"
expect_out "/etc/ferry/inbox.env"
cmp "$R/etc/ferry/inbox.env" "$SRC/appliance/etc/inbox.env" || fail "inbox.env is not the packaged default"
grep -q '# mine' "$R/etc/ferry/reconcile.yaml" || fail "the administrator's reconcile.yaml was replaced"
"$FERRY" trust show --store "$R/var/lib/ferry" | grep -q '^trust root version 1' || fail "no trust root"
ok "first run: store and trust root, every file written, an existing reconcile.yaml kept, units to enable"

mode() { stat -c '%a' "$R$1"; }
for f in /etc/ferry/tls/ca.pem:644 /etc/ferry/tls/ca-key.pem:600 /etc/ferry/tls/mirror.pem:644 \
	/etc/ferry/tls/mirror-key.pem:640 /etc/ferry/mirror.htpasswd:640 /etc/ferry/mirror-auth.json:600 \
	/etc/ferry/mirror-site.env:644 /etc/systemd/system/ferry-mirror.service.d/50-ferry-site.conf:644 \
	/etc/containers/registries.conf.d/50-ferry-site.conf:644 "/etc/containers/certs.d/127.0.0.1:$port/ca.crt:644" \
	"/etc/containerd/certs.d/127.0.0.1:$port/hosts.toml:644" /etc/containerd/certs.d/quay.io/hosts.toml:644 \
	/var/lib/ferry:750; do
	[ -e "$R${f%:*}" ] || fail "missing ${f%:*}"
	[ "$(mode "${f%:*}")" = "${f##*:}" ] || fail "${f%:*} has mode $(mode "${f%:*}"), not ${f##*:}"
done
if [ "$(id -u)" = 0 ]; then
	own() { [ "$(stat -c '%u:%g' "$R$1")" = "$2" ] || fail "$1 is owned by $(stat -c '%u:%g' "$R$1"), not $2"; }
	own /var/lib/ferry 998:998
	own /var/lib/ferry/ferry.db 998:998
	own /etc/ferry/tls/mirror-key.pem 0:998
	own /etc/ferry/mirror.htpasswd 0:998
	own /etc/ferry/tls/ca-key.pem 0:0
	own /etc/ferry/mirror-auth.json 0:0
fi
ok "modes: keys and credentials 0600/0640, public files 0644, the store 0750$([ "$(id -u)" = 0 ] && echo '; the store the service user'"'"'s, its readable secrets root:ferry')"

(cd "$R/etc/ferry/tls" && openssl verify -CAfile ca.pem mirror.pem) >"$T/verify" 2>&1 || { cat "$T/verify" >&2; fail "openssl verify"; }
openssl x509 -in "$R/etc/ferry/tls/mirror.pem" -noout -ext subjectAltName >"$T/san"
grep -q 'IP Address:127.0.0.1' "$T/san" && grep -q 'DNS:mirror.test' "$T/san" || fail "names: $(cat "$T/san")"
openssl x509 -in "$R/etc/ferry/tls/ca.pem" -noout -ext basicConstraints | grep -q 'CA:TRUE' || fail "the CA is no CA"
cmp -s "$R/etc/ferry/tls/ca.pem" "$R/etc/containers/certs.d/127.0.0.1:$port/ca.crt" || fail "podman's ca.crt is not the CA"
ok "openssl verify -CAfile ca.pem mirror.pem passes; names 127.0.0.1 and mirror.test"

grep -qx "location = \"127.0.0.1:$port\"" "$R/etc/containers/registries.conf.d/50-ferry-site.conf" &&
	grep -qx 'prefix = "quay.io"' "$R/etc/containers/registries.conf.d/50-ferry-site.conf" &&
	grep -qx "location = \"127.0.0.1:$port/quay.io\"" "$R/etc/containers/registries.conf.d/50-ferry-site.conf" ||
	fail "registries.conf: $(cat "$R/etc/containers/registries.conf.d/50-ferry-site.conf")"
grep -qx "\[host.\"https://127.0.0.1:$port/v2/quay.io\"\]" "$R/etc/containerd/certs.d/quay.io/hosts.toml" &&
	grep -qx '  ca = "/etc/ferry/tls/ca.pem"' "$R/etc/containerd/certs.d/quay.io/hosts.toml" &&
	grep -qx '  override_path = true' "$R/etc/containerd/certs.d/quay.io/hosts.toml" ||
	fail "hosts.toml: $(cat "$R/etc/containerd/certs.d/quay.io/hosts.toml")"
grep -qx 'EnvironmentFile=/etc/ferry/mirror-site.env' "$R/etc/systemd/system/ferry-mirror.service.d/50-ferry-site.conf" ||
	fail "the drop-in does not read mirror-site.env"
grep -q '^pull:\$argon2id\$' "$R/etc/ferry/mirror.htpasswd" || fail "htpasswd: $(cat "$R/etc/ferry/mirror.htpasswd")"
ok "node configuration: registries.conf mirror entries, containerd hosts.toml with the CA, the mirror's drop-in, an argon2id htpasswd"

# The store gets an image under a registry name; site init adds the name.
make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
printf 'channel: site\nsources:\n  - oci-layout: %s\n    name: registry.example/library/app\n' "$T/layout" >"$T/spec.yaml"
mkdir -p "$T/bundles"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" --state "$T/state.db" >/dev/null
"$FERRY" import -q --store "$R/var/lib/ferry" "$T"/bundles/*.tar || fail "import"
[ "$(id -u)" = 0 ] && chown -R 998:998 "$R/var/lib/ferry"
expect_exit 0 init --registry quay.io
expect_out "wrote     /etc/containerd/certs.d/registry.example/hosts.toml"
grep -qx "location = \"127.0.0.1:$port/registry.example\"" "$R/etc/containers/registries.conf.d/50-ferry-site.conf" ||
	fail "registries.conf lacks the store's registry name"
ok "a registry name the store holds is added to registries.conf and gets its hosts.toml"

# A second run with the same arguments: nothing changes.
# (Directories' times are left out: reading the store's database makes and
# removes SQLite's shared-memory file beside it.)
snapshot() { find "$R" \( -type d -printf '%p %m %U:%G\n' \) -o -printf '%p %m %U:%G %s %T@\n' | sort; }
snapshot >"$T/before"
expect_exit 0 init --registry quay.io
expect_out "nothing changed"
! grep -q '^wrote' "$T/out" || fail "a second run wrote: $(grep '^wrote' "$T/out")"
init --registry quay.io --json >"$T/json"
[ "$(jq -r .changed "$T/json")" = false ] && [ "$(jq -r '.steps | length' "$T/json")" -gt 10 ] || fail "json: $(cat "$T/json")"
# Without --name and --listen, the mirror keeps the name and address the
# first run gave it.
expect_exit 0 "$FERRY" site init --root "$R" --registry quay.io
expect_out "nothing changed; the mirror is https://127.0.0.1:$port"
snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || { diff "$T/before" "$T/after" >&2; fail "a second run changed files"; }
ok "second run: nothing changed (said, and no file touched), also without --name and --listen"

# Start the mirror as its unit would: ExecStart with mirror.env's and
# mirror-site.env's settings, the paths under the root.
env_of() { sed -n "s|^$1=||p" "$R/etc/ferry/mirror-site.env" | sed "s| /etc/| $R/etc/|g"; }
listen=$(env_of FERRY_MIRROR_LISTEN)
FERRY_STORE=$R$(env_of FERRY_STORE) "$FERRY" mirror serve --listen "$listen" $(env_of FERRY_MIRROR_OPTIONS) \
	2>"$T/mirror.log" >"$T/access.log" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
for _ in $(seq 1 100); do
	curl -s -o /dev/null --cacert "$R/etc/ferry/tls/ca.pem" "https://127.0.0.1:$port/healthz" && break
	kill -0 "$pid" 2>/dev/null || { cat "$T/mirror.log" >&2; fail "the mirror did not start"; }
	sleep 0.1
done
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code --cacert "$R/etc/ferry/tls/ca.pem" "https://127.0.0.1:$port/v2/")" = 401 ] || fail "no credentials needed"
pass=$(jq -r '.auths[].auth' "$R/etc/ferry/mirror-auth.json" | base64 -d)
[ "$(code --cacert "$R/etc/ferry/tls/ca.pem" -u "$pass" "https://127.0.0.1:$port/v2/")" = 200 ] || fail "the written credentials are refused"
[ "$(code --cacert "$R/etc/ferry/tls/ca.pem" -u "$pass" --resolve "mirror.test:$port:127.0.0.1" \
	"https://mirror.test:$port/v2/")" = 200 ] || fail "TLS for mirror.test"
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
skopeo --policy "$T/policy.json" copy -q --src-cert-dir "$R/etc/containers/certs.d/127.0.0.1:$port" \
	--src-authfile "$R/etc/ferry/mirror-auth.json" \
	"docker://127.0.0.1:$port/registry.example/library/app:v1" "oci:$T/back:v1" || fail "skopeo pull"
want=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$T/layout/index.json")
[ "sha256:$(skopeo inspect --raw "oci:$T/back:v1" | sha256sum | cut -d' ' -f1)" = "$want" ] || fail "digest differs"
ok "the mirror started from the written settings serves TLS with the site's CA and credentials; skopeo pulls with --cert-dir and --authfile"
