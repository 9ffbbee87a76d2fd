#!/usr/bin/env bash
# From an empty enclave host to a running site, end to end (slow: runs
# only with FERRY_SLOW=1, as scripts/test-slow.sh does; as root, with
# network on the connected side):
#   connected side: build the package (appliance/build-deb.sh), resolve
#     and download its dependencies against a minimal Debian 12 system
#     (appliance/kit-deps.sh with the debootstrap root's dpkg status),
#     export a first bundle, and `ferry kit build` the kit; stock minisign
#     verifies it;
#   enclave host: a `debootstrap --variant=minbase bookworm` root (cached
#     as a tar in $FERRY_SLOW_CACHE, default /var/tmp/ferry-slow, so only
#     the first run waits for debootstrap), the kit copied in; with the
#     network cut (`unshare -n chroot ROOT ...`): install.sh, `ferry site
#     init`, the first bundle imported as the user ferry;
#   the mirror started from the installed unit's ExecStart line with the
#     unit's environment files (systemd is not PID 1 in a chroot), under the
#     user ferry, and a stock skopeo on the host pulls an image from it
#     over TLS with the site's CA and credentials.
# The mirror runs in the chroot without `unshare -n`: a new network
# namespace has its own loopback, which skopeo on the host could not reach.
# Installing and setting up ran without a network, which is what the
# enclave host has; serving needs one.
. "$(dirname "$0")/../lib/test-lib.sh"
[ -n "${FERRY_SLOW:-}" ] || skip_all "a slow test: run it with FERRY_SLOW=1 (scripts/test-slow.sh)"
[ "$(id -u)" = 0 ] || skip_all "needs root (chroot, unshare, dpkg in the root)"
need debootstrap unshare chroot skopeo minisign jq python3 umoci dpkg-deb apt-get
. "$SRC/tests/lib/oci-fixture.sh"
BUILD=${FERRY_BUILD_DIR:-$(dirname "$(dirname "$FERRY")")}
ls "$BUILD"/appliance/man/*.1.gz >/dev/null 2>&1 || skip_all "the build tree has no manual pages (needs pandoc)"
CACHE=${FERRY_SLOW_CACHE:-/var/tmp/ferry-slow}
step() { echo "# $(date -u +%T) $*"; }

# ---- the minimal Debian 12 system, cached ----------------------------------
mkdir -p "$CACHE"
if [ ! -s "$CACHE/bookworm-minbase.tar" ]; then
	step "debootstrap --variant=minbase bookworm (cached in $CACHE)"
	rm -rf "$CACHE/bookworm.new"
	debootstrap --variant=minbase bookworm "$CACHE/bookworm.new" "${FERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
		>"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; fail "debootstrap"; }
	tar -C "$CACHE/bookworm.new" -cf "$CACHE/bookworm-minbase.tar.part" .
	mv "$CACHE/bookworm-minbase.tar.part" "$CACHE/bookworm-minbase.tar"
	rm -rf "$CACHE/bookworm.new"
fi
R=$T/root
mkdir -p "$R"
tar -C "$R" -xf "$CACHE/bookworm-minbase.tar"
! chroot "$R" dpkg-query -W ferry >/dev/null 2>&1 || fail "the base root has ferry"
ok "a minimal Debian 12 root ($(chroot "$R" dpkg-query -W -f='.\n' | wc -l) packages)"

# ---- the connected side: package, dependencies, bundle, kit -----------------
step "build-deb.sh"
deb=$("$SRC/appliance/build-deb.sh" "$BUILD" "$T/deb" 2>"$T/build-deb.err") || { cat "$T/build-deb.err" >&2; fail "build-deb.sh"; }
step "kit-deps.sh against the root's dpkg status"
"$SRC/appliance/kit-deps.sh" "$deb" "$T/deps" "$R/var/lib/dpkg/status" >"$T/deps.list" 2>"$T/deps.err" ||
	{ cat "$T/deps.err" >&2; fail "kit-deps.sh"; }
[ "$(ls "$T"/deps/*.deb | wc -l)" = "$(wc -l <"$T/deps.list")" ] || fail "not every dependency was downloaded"
grep -q '^libgit2-1.5=' "$T/deps.list" || fail "the dependencies lack libgit2: $(cat "$T/deps.list")"

"$FERRY" keygen -o "$T/site" >/dev/null
make_oci_layout "$T/layout" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail fixture; }
printf 'channel: site\nsources:\n  - oci-layout: %s\n    name: registry.example/library/app\n' "$T/layout" >"$T/spec.yaml"
mkdir -p "$T/bundles"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/site.key" --out "$T/bundles" --state "$T/state.db" >/dev/null || fail export
bundle=$(ls "$T"/bundles/*.tar)
"$FERRY" kit build --out "$T/kit" --deb "$deb" --deps "$T/deps" --trust "$T/site.pub" --bundle "$bundle" \
	--key "$T/site.key" >"$T/kit.out" || fail "kit build"
(cd "$T/kit" && minisign -Vm SHA256SUMS -p trust/site.pub) >/dev/null || fail "minisign rejects the kit"
ok "the kit: ferry and $(wc -l <"$T/deps.list") dependency packages, the trust key, the first bundle; stock minisign verifies it"

# ---- the enclave host, without a network -------------------------------------
cp -a "$T/kit" "$R/root/kit"
mount -t proc proc "$R/proc"
at_exit "umount '$R/proc'"
offline() { unshare -n chroot "$R" "$@"; }
offline sh -c '! ip link 2>/dev/null | grep -q "state UP"' || true
step "install.sh in the root, unshare -n"
offline sh /root/kit/install.sh >"$T/install.out" 2>&1 || { tail -40 "$T/install.out" >&2; fail "install.sh"; }
grep -q 'every file matches SHA256SUMS' "$T/install.out" || fail "install.sh did not check the kit"
[ "$(chroot "$R" dpkg-query -W -f='${Status}' ferry)" = "install ok installed" ] || fail "ferry is not installed"
chroot "$R" ferry --version >/dev/null || fail "the installed ferry does not run (a missing library?)"
chroot "$R" getent passwd ferry >/dev/null || fail "no user ferry"
ok "install.sh installs ferry and its dependencies with no network (unshare -n): $(chroot "$R" ferry --version)"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "ferry site init, unshare -n"
offline ferry site init --trust /root/kit/trust/site.pub --name 127.0.0.1 --name enclave.test \
	--listen "127.0.0.1:$port" >"$T/site.out" 2>&1 || { cat "$T/site.out" >&2; fail "site init"; }
grep -q 'todo      ferry-mirror.service' "$T/site.out" || fail "units: $(cat "$T/site.out")"
grep -q 'systemctl enable --now ferry-mirror.service' "$T/site.out" || fail "no enable command printed"
[ "$(chroot "$R" stat -c %U:%G /var/lib/ferry/ferry.db)" = ferry:ferry ] || fail "the store is not ferry's"
[ "$(chroot "$R" stat -c %U:%G:%a /etc/ferry/tls/mirror-key.pem)" = root:ferry:640 ] || fail "the mirror's key"
name=$(basename "$bundle")
offline install -o ferry -g ferry -m 0640 "/root/kit/bundles/$name" "/var/spool/ferry/$name"
offline runuser -u ferry -- ferry import -q "/var/spool/ferry/$name" >"$T/import.out" 2>&1 ||
	{ cat "$T/import.out" >&2; fail "import as ferry"; }
offline ferry site init --registry registry.example >"$T/site2.out" 2>&1 || { cat "$T/site2.out" >&2; fail "site init again"; }
grep -qx "location = \"127.0.0.1:$port/registry.example\"" "$R/etc/containers/registries.conf.d/50-ferry-site.conf" ||
	fail "registries.conf lacks the imported registry name"
offline ferry site init --registry registry.example >"$T/site3.out" 2>&1 && grep -q 'nothing changed' "$T/site3.out" ||
	{ cat "$T/site3.out" >&2; fail "a third run changed something"; }
ok "site init with no network; the first bundle imported as ferry; site init again adds its registry name, and a third run changes nothing"

# ---- the mirror from the installed unit ---------------------------------------
# ExecStart with the unit's environment files in the unit's order
# (EnvironmentFile= of the unit, then the drop-in's), expanded as systemd
# does: ${VAR} one word, $VAR split at spaces.
unit=$R/lib/systemd/system/ferry-mirror.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
declare -A envv
for f in "$R/etc/ferry/mirror.env" $(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$R"/etc/systemd/system/ferry-mirror.service.d/*.conf); do
	[ -f "$f" ] || f=$R$f
	while IFS='=' read -r k v; do
		case $k in ''|'#'*) continue ;; esac
		envv[$k]=$v
	done <"$f"
done
words=()
for w in $exec_start; do
	case $w in
	'${'*'}') words+=("${envv[${w:2:-1}]}") ;;
	'$'*) read -ra split <<<"${envv[${w:1}]}"; words+=("${split[@]}") ;;
	*) words+=("$w") ;;
	esac
done
echo "# ExecStart as run: ${words[*]}"
[ "${words[0]}" = /usr/bin/ferry ] && [ "${words[1]}" = mirror ] || fail "ExecStart: $exec_start"
step "the mirror, as ferry, in the root (with the host's network)"
chroot --userspec=ferry:ferry "$R" env -i FERRY_STORE="${envv[FERRY_STORE]}" "${words[@]}" \
	>"$T/access.log" 2>"$T/mirror.log" &
mpid=$!
at_exit "kill $mpid 2>/dev/null; wait $mpid 2>/dev/null"
for _ in $(seq 1 100); do
	curl -s -o /dev/null --cacert "$R/etc/ferry/tls/ca.pem" "https://127.0.0.1:$port/readyz" && break
	kill -0 "$mpid" 2>/dev/null || { cat "$T/mirror.log" >&2; fail "the mirror did not start"; }
	sleep 0.1
done
[ "$(ps -o uid= -p "$mpid" | tr -d ' ')" = "$(chroot "$R" id -u ferry)" ] ||
	fail "the mirror runs as uid $(ps -o uid= -p "$mpid"), not ferry's"
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
skopeo --policy "$T/policy.json" copy -q --src-cert-dir "$R/etc/containers/certs.d/127.0.0.1:$port" \
	--src-authfile "$R/etc/ferry/mirror-auth.json" \
	"docker://127.0.0.1:$port/registry.example/library/app:v1" "oci:$T/back:v1" || { cat "$T/mirror.log" >&2; fail "skopeo pull"; }
want=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$T/layout/index.json")
[ "sha256:$(skopeo inspect --raw "oci:$T/back:v1" | sha256sum | cut -d' ' -f1)" = "$want" ] || fail "digest differs"
ok "the mirror from the installed unit's ExecStart, as ferry, serves TLS with the site's CA and credentials: skopeo on the host pulls registry.example/library/app:v1 (identical digest)"
