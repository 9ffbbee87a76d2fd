#!/usr/bin/env bash
# appliance/build-deb.sh makes the Debian package from the build tree: the
# binary, a manual page for every docs/man page, the units as in
# appliance/systemd, the configuration as conffiles, copyright and
# changelog, Depends computed by dpkg-shlibdeps (every library the binary
# links, by its package), and lintian reports no error or warning. As root,
# dpkg installs it into a throw-away root (a static busybox for the
# maintainer scripts, stand-ins that record adduser's and systemd's calls):
# postinst makes the user ferry and hands it /var/lib/ferry and
# /var/spool/ferry (export jobs' outboxes; both 0750) and
# /var/log/ferry; purge removes the log directory and an empty store
# directory, and keeps a store that holds something.
. "$(dirname "$0")/../lib/test-lib.sh"
need dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-architecture lintian objdump
BUILD=${FERRY_BUILD_DIR:-$(dirname "$(dirname "$FERRY")")}
ls "$BUILD"/appliance/man/*.1.gz >/dev/null 2>&1 || skip_all "the build tree has no manual pages (needs pandoc)"

version=$(sed -n 's/^project(ferry VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
deb=$("$SRC/appliance/build-deb.sh" "$BUILD" "$T/out" 2>"$T/build.err") ||
	{ cat "$T/build.err" >&2; fail "build-deb.sh failed"; }
[ "$deb" = "$T/out/ferry_${version}_$(dpkg --print-architecture).deb" ] && [ -f "$deb" ] || fail "no package: '$deb'"
# A tree linked without --as-needed (clang's Debug build) draws dpkg-shlibdeps'
# note on libraries the binary does not use; anything else is a fault.
! grep -v 'could avoid a useless dependency' "$T/build.err" | grep -q . ||
	{ cat "$T/build.err" >&2; fail "build-deb.sh warned"; }
ok "build-deb.sh builds ferry_${version} from the build tree"

field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = ferry ] && [ "$(field Version)" = "$version" ] || fail "package $(field Package) $(field Version)"
depends=$(field Depends)
# Every library the binary needs, named by the package that holds it.
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for soname in $(objdump -p "$FERRY" | awk '$1 == "NEEDED" { print $2 }'); do
	pkg=$(dpkg -S "*/$triplet/$soname" 2>/dev/null | awk -F: 'NR == 1 { print $1 }')
	[ -n "$pkg" ] || fail "no package holds $soname"
	grep -q "\(^\|, \)$pkg\( (\|,\|$\)" <<<"$depends" || fail "Depends lacks $pkg (for $soname): $depends"
done
grep -q '(>= ' <<<"$depends" || fail "Depends has no versions from the symbols files: $depends"
grep -q '\badduser\b' <<<"$depends" || fail "Depends lacks adduser: $depends"
ok "Depends from dpkg-shlibdeps: $depends"

dpkg-deb --contents "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T/contents"
for f in /usr/bin/ferry /lib/systemd/system/ferry-mirror.service /lib/systemd/system/ferry-reconcile.service \
	/lib/systemd/system/ferry-inbox.service /etc/ferry/inbox.env \
	/lib/systemd/system/ferry-console.service /etc/ferry/console.env \
	/etc/ferry/README /etc/ferry/mirror.env /etc/ferry/reconcile.yaml /etc/logrotate.d/ferry \
	/usr/share/doc/ferry/copyright /usr/share/doc/ferry/changelog.gz \
	/usr/share/doc/ferry/guide/installing.md.gz /usr/share/doc/ferry/examples/ferry-reconcile-kubernetes.conf \
	/lib/systemd/system/ferry-export@.service /lib/systemd/system/ferry-export@.timer \
	/etc/ferry/export.d/ /usr/share/doc/ferry/examples/export-job.yaml \
	/var/lib/ferry/ /var/lib/ferry-inbox/ /var/log/ferry/ /var/spool/ferry/; do
	grep -qxF "$f" "$T/contents" || fail "the package lacks $f"
done
for page in "$SRC"/docs/man/*.md; do
	grep -qxF "/usr/share/man/man1/$(basename "$page" .md).1.gz" "$T/contents" ||
		fail "no manual page for $(basename "$page")"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$T/conffiles"
printf '%s\n' /etc/ferry/README /etc/ferry/console.env /etc/ferry/inbox.env /etc/ferry/mirror.env \
	/etc/ferry/reconcile.yaml /etc/logrotate.d/ferry |
	cmp -s - "$T/conffiles" || fail "conffiles: $(cat "$T/conffiles")"
dpkg-deb -x "$deb" "$T/x"
for unit in ferry-mirror.service ferry-reconcile.service ferry-inbox.service ferry-console.service; do
	cmp -s "$SRC/appliance/systemd/$unit" "$T/x/lib/systemd/system/$unit" || fail "$unit differs from appliance/systemd"
done
for f in README console.env inbox.env mirror.env reconcile.yaml; do
	cmp -s "$SRC/appliance/etc/$f" "$T/x/etc/ferry/$f" || fail "/etc/ferry/$f differs from appliance/etc"
done
file "$T/x/usr/bin/ferry" | grep -q ', stripped' || fail "the binary is not stripped"
[ "$("$T/x/usr/bin/ferry" --version | cut -d' ' -f2)" = "$version" ] || fail "the packaged binary is not $version"
zcat "$T/x/usr/share/man/man1/ferry-mirror.1.gz" | grep -q '^\.TH "FERRY-MIRROR" "1"' || fail "ferry-mirror.1 is not roff"
ok "contents: binary, $(ls "$SRC"/docs/man/*.md | wc -l) manual pages, units, conffiles, copyright, changelog, docs"

lintian --display-level '>=pedantic' --display-experimental --show-overrides "$deb" >"$T/lintian" 2>&1 || true
echo "# lintian:"
grep -v 'running with root privileges' "$T/lintian" | sed 's/^/#   /'
! grep -q '^[EW]: ' "$T/lintian" || fail "lintian reports errors or warnings"
grep -q '^O: ferry: package-supports-alternative-init-but-no-init.d-script' "$T/lintian" ||
	fail "lintian did not apply the package's overrides (did it run?)"
ok "lintian: no error, no warning"

[ "$(id -u)" = 0 ] || skip_all "installing into a throw-away root needs root"
need busybox
R=$T/root
mkdir -p "$R"/var/lib/dpkg/info "$R"/var/lib/dpkg/updates "$R"/bin "$R"/usr/sbin "$R"/etc "$R"/tmp "$R"/dev
touch "$R"/var/lib/dpkg/status "$R"/var/lib/dpkg/available
mknod -m 666 "$R/dev/null" c 1 3 2>/dev/null || : >"$R/dev/null"
cp "$(command -v busybox)" "$R/bin/busybox"
for applet in sh chown chmod rm rmdir grep cat echo test [; do ln -s busybox "$R/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nadm:x:4:\n' >"$R/etc/group"
# stand NAME BODY: a program in the root that records its arguments.
stand() { printf '#!/bin/sh\necho "%s $*" >>/tmp/calls\n%s\n' "$1" "$2" >"$R/usr/sbin/$1"; chmod 755 "$R/usr/sbin/$1"; }
stand getent 'grep -q "^$2:" "/etc/$1"'
stand addgroup 'for g; do :; done; if [ "$g" = ferry ]; then id=998; else id=997; fi; echo "$g:x:$id:" >>/etc/group'
stand adduser 'echo "ferry:x:998:998:ferry:/nonexistent:/usr/sbin/nologin" >>/etc/passwd'
stand dpkg-statoverride 'exit 1'
# On a first install deb-systemd-helper knows no state of the units.
stand deb-systemd-helper '[ "$1" != debian-installed ]'
stand deb-systemd-invoke 'exit 0'
stand systemctl 'exit 0'
dpkgr() { PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg --root="$R" --force-depends "$@"; }
dpkgr -i "$deb" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out" >&2; fail "dpkg -i into the throw-away root"; }
[ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status} ${Version}' ferry)" = "install ok installed $version" ] ||
	fail "not installed"
grep -qx 'addgroup --system --quiet ferry' "$R/tmp/calls" || fail "no system group: $(cat "$R/tmp/calls")"
grep -qx 'addgroup --system --quiet ferry-console' "$R/tmp/calls" ||
	fail "no group for the console's control socket: $(cat "$R/tmp/calls")"
grep -q '^adduser --system --quiet --ingroup ferry .*--home /nonexistent --shell /usr/sbin/nologin .* ferry$' "$R/tmp/calls" ||
	fail "no system user: $(cat "$R/tmp/calls")"
[ "$(stat -c '%u:%g %a' "$R/var/lib/ferry")" = "998:998 750" ] || fail "/var/lib/ferry is $(stat -c '%u:%g %a' "$R/var/lib/ferry")"
[ "$(stat -c '%u:%g %a' "$R/var/lib/ferry-inbox")" = "998:998 2770" ] ||
	fail "/var/lib/ferry-inbox is $(stat -c '%u:%g %a' "$R/var/lib/ferry-inbox")"
[ "$(stat -c '%u:%g %a' "$R/var/log/ferry")" = "998:4 2750" ] || fail "/var/log/ferry is $(stat -c '%u:%g %a' "$R/var/log/ferry")"
[ "$(stat -c '%u:%g %a' "$R/var/spool/ferry")" = "998:998 750" ] || fail "/var/spool/ferry is $(stat -c '%u:%g %a' "$R/var/spool/ferry")"
for unit in ferry-mirror.service ferry-reconcile.service ferry-inbox.service ferry-console.service; do
	grep -qx "deb-systemd-helper update-state $unit" "$R/tmp/calls" || fail "$unit not recorded"
done
! grep -q '^deb-systemd-helper enable\|^deb-systemd-invoke\|^systemctl' "$R/tmp/calls" ||
	fail "a unit was enabled or started: $(cat "$R/tmp/calls")"
dpkg --root="$R" --verify ferry >"$T/verify" || { cat "$T/verify" >&2; fail "dpkg --verify"; }
[ ! -s "$T/verify" ] || { cat "$T/verify" >&2; fail "dpkg --verify found changes"; }
[ -x "$R/usr/bin/ferry" ] && [ -f "$R/etc/ferry/reconcile.yaml" ] && [ -f "$R/lib/systemd/system/ferry-mirror.service" ] &&
	[ -f "$R/usr/share/man/man1/ferry.1.gz" ] || fail "files missing after install"
ok "dpkg installs it: user and group ferry, /var/lib/ferry and /var/spool/ferry ferry:ferry 0750, /var/lib/ferry-inbox ferry:ferry 2770, /var/log/ferry ferry:adm 2750, units neither enabled nor started"

# A reinstall keeps an edited conffile.
echo 'FERRY_MIRROR_LISTEN=10.0.0.5:5000' >>"$R/etc/ferry/mirror.env"
dpkgr --force-confold -i "$deb" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out" >&2; fail "reinstall"; }
grep -q '^FERRY_MIRROR_LISTEN=10.0.0.5:5000$' "$R/etc/ferry/mirror.env" || fail "the edited mirror.env was replaced"
grep -qx 'deb-systemd-invoke try-restart ferry-mirror.service ferry-reconcile.service ferry-inbox.service ferry-console.service' "$R/tmp/calls" &&
	fail "try-restart without systemd running"
ok "an upgrade keeps the administrator's mirror.env"

: >"$R/var/lib/ferry/ferry.db"
dpkgr --purge ferry >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out" >&2; fail "purge"; }
[ -f "$R/var/lib/ferry/ferry.db" ] || fail "purge removed a store that holds something"
grep -q 'keeping the store in /var/lib/ferry' "$T/dpkg.out" || fail "purge did not say it kept the store"
[ ! -e "$R/var/log/ferry" ] && [ ! -e "$R/var/spool/ferry" ] && [ ! -e "$R/etc/ferry" ] && [ ! -e "$R/usr/bin/ferry" ] || fail "purge left files"
grep -qx 'deb-systemd-helper purge ferry-mirror.service ferry-reconcile.service ferry-inbox.service ferry-console.service' "$R/tmp/calls" || fail "units not purged"
rm "$R/var/lib/ferry/ferry.db"
dpkgr -i "$deb" >/dev/null 2>&1 && dpkgr --purge ferry >"$T/dpkg.out" 2>&1 || fail "second install and purge"
[ ! -e "$R/var/lib/ferry" ] || fail "purge left an empty /var/lib/ferry"
[ ! -e "$R/var/lib/ferry-inbox" ] || fail "purge left an empty /var/lib/ferry-inbox"
ok "purge removes the logs and an empty store directory, keeps a store that holds something"
