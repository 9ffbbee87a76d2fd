#!/usr/bin/env bash
# The systemd units of appliance/systemd pass `systemd-analyze verify`
# (offline, pointed at the built binary), carry the hardening the
# installation guide describes, and reach the exposure it reports
# (`systemd-analyze security --offline`): the mirror and the
# Kubernetes-only reconciler below 5 ("OK"); the rootful-podman reconciler
# keeps out every restriction its containers would inherit. The installed
# defaults work: the mirror's environment file starts a mirror that answers,
# the reconciler's config loads and runs with no stacks, and the inbox
# imports what is put into its directory.
. "$(dirname "$0")/../lib/test-lib.sh"
command -v systemd-analyze >/dev/null 2>&1 || skip_all "needs systemd-analyze (the systemd package)"
need curl jq

A=$SRC/appliance
U=$T/units
mkdir -p "$U/ferry-reconcile.service.d"
for unit in "$A"/systemd/*.service "$A"/systemd/*.timer; do
	sed "s|/usr/bin/ferry|$FERRY|g" "$unit" >"$U/$(basename "$unit")"
done
[ -f "$U/ferry-mirror.service" ] && [ -f "$U/ferry-reconcile.service" ] && [ -f "$U/ferry-inbox.service" ] ||
	fail "units missing"

# verify prints problems it ignores (unknown keys, bad values) and still
# exits 0: both must stay silent.
verify() {
	local got=0
	systemd-analyze verify --man=no "$@" >"$T/verify.out" 2>&1 || got=$?
	[ "$got" = 0 ] && [ ! -s "$T/verify.out" ] || { cat "$T/verify.out" >&2; fail "systemd-analyze verify $*"; }
}
for unit in "$U"/*.service; do
	verify "$unit"
done
# The export job template, as an instance and its timer.
verify "$U/ferry-export@site-a.service" "$U/ferry-export@site-a.timer"
ok "systemd-analyze verify: every unit loads with no warning"

# has UNIT LINE...: UNIT's [Service] holds each line exactly.
has() {
	local unit=$1 line
	shift
	for line in "$@"; do
		grep -qxF -- "$line" "$A/systemd/$unit" || fail "$unit lacks '$line'"
	done
}
lacks() {
	local unit=$1 key
	shift
	for key in "$@"; do
		! grep -q "^$key=" "$A/systemd/$unit" || fail "$unit has $key="
	done
}
has ferry-mirror.service User=ferry Group=ferry ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	PrivateDevices=yes NoNewPrivileges=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
	ProtectKernelLogs=yes ProtectControlGroups=yes RestrictNamespaces=yes LockPersonality=yes \
	MemoryDenyWriteExecute=yes CapabilityBoundingSet= AmbientCapabilities= \
	"RestrictAddressFamilies=AF_INET AF_UNIX" SystemCallFilter=@system-service \
	SystemCallArchitectures=native UMask=0027 Restart=on-failure \
	"ReadWritePaths=-/var/log/ferry" "EnvironmentFile=-/etc/ferry/mirror.env" \
	'ExecStart=/usr/bin/ferry mirror serve --listen ${FERRY_MIRROR_LISTEN} $FERRY_MIRROR_OPTIONS'
has ferry-inbox.service User=ferry Group=ferry ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	PrivateDevices=yes NoNewPrivileges=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
	ProtectKernelLogs=yes ProtectControlGroups=yes RestrictNamespaces=yes LockPersonality=yes \
	MemoryDenyWriteExecute=yes CapabilityBoundingSet= AmbientCapabilities= \
	SystemCallFilter=@system-service SystemCallArchitectures=native Restart=on-failure \
	"ReadWritePaths=/var/lib/ferry /var/lib/ferry-inbox -/var/log/ferry" \
	"EnvironmentFile=-/etc/ferry/inbox.env" \
	'ExecStart=/usr/bin/ferry inbox run --dir ${FERRY_INBOX_DIR} $FERRY_INBOX_OPTIONS'
has ferry-reconcile.service User=root Restart=on-failure KillMode=mixed \
	'ExecStart=/usr/bin/ferry reconcile --config /etc/ferry/reconcile.yaml --audit-log - run' \
	'ExecReload=/bin/kill -HUP $MAINPID'
has ferry-export@.service User=ferry Type=oneshot SuccessExitStatus=3 NoNewPrivileges=yes \
	ProtectSystem=strict CapabilityBoundingSet= StateDirectory=ferry-export \
	'ExecStart=/usr/bin/ferry export --job %i -q' 'ConditionPathExists=/etc/ferry/export.d/%i.yaml'
grep -qx 'OnCalendar=hourly' "$A/systemd/ferry-export@.timer" || fail "the export timer has no schedule"
# The mirror has no reload (SIGHUP would stop it); the reconciler reloads
# its config on SIGHUP.
lacks ferry-mirror.service ExecReload
lacks ferry-inbox.service ExecReload
# What rootful podman's containers would inherit (seccomp, no_new_privs) or
# what would hide their mounts (a private mount namespace) stays out.
lacks ferry-reconcile.service NoNewPrivileges SystemCallFilter SystemCallArchitectures \
	RestrictAddressFamilies RestrictNamespaces MemoryDenyWriteExecute LockPersonality \
	RestrictSUIDSGID ProtectSystem ProtectHome PrivateTmp PrivateDevices ReadWritePaths \
	ProtectKernelTunables ProtectKernelModules ProtectControlGroups ProtectHostname ProtectClock
grep -q '^CapabilityBoundingSet=~CAP_SYS_MODULE ' "$A/systemd/ferry-reconcile.service" ||
	fail "the reconciler keeps CAP_SYS_MODULE"
has ferry-console.service User=ferry Group=ferry SupplementaryGroups=ferry-console ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	PrivateDevices=yes NoNewPrivileges=yes CapabilityBoundingSet= AmbientCapabilities= \
	"RestrictAddressFamilies=AF_INET AF_UNIX" SystemCallFilter=@system-service UMask=0027 \
	"ReadWritePaths=/var/lib/ferry" "EnvironmentFile=-/etc/ferry/console.env" \
	'ExecStart=/usr/bin/ferry console --listen ${FERRY_CONSOLE_LISTEN} $FERRY_CONSOLE_OPTIONS'
lacks ferry-console.service ExecReload
ok "hardening: the mirror and export jobs confined and without capabilities; the podman reconciler without what containers inherit; reload only where SIGHUP reloads"

# exposure UNIT: the overall exposure systemd-analyze security computes.
exposure() {
	systemd-analyze security --offline=yes --man=no "$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p'
}
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
m=$(exposure "$U/ferry-mirror.service")
e=$(exposure "$U/ferry-export@site-a.service")
i=$(exposure "$U/ferry-inbox.service")
co=$(exposure "$U/ferry-console.service")
r=$(exposure "$U/ferry-reconcile.service")
cp "$A/systemd/ferry-reconcile-kubernetes.conf" "$U/ferry-reconcile.service.d/kubernetes.conf"
verify "$U/ferry-reconcile.service"
k=$(exposure "$U/ferry-reconcile.service")
echo "# exposure: ferry-mirror $m, ferry-inbox $i, ferry-reconcile $r, ferry-reconcile with kubernetes.conf $k"
[ -n "$m" ] && [ -n "$i" ] && [ -n "$r" ] && [ -n "$k" ] || fail "systemd-analyze security printed no exposure"
below "$m" 5 || fail "ferry-mirror.service exposure $m is not below 5"
[ -n "$e" ] && below "$e" 5 || fail "ferry-export@.service exposure '$e' is not below 5"
below "$i" 5 || fail "ferry-inbox.service exposure $i is not below 5"
[ -n "$co" ] && below "$co" 5 || fail "ferry-console.service exposure '$co' is not below 5"
below "$k" 5 || fail "ferry-reconcile.service with kubernetes.conf exposure $k is not below 5"
below "$r" 10 || fail "ferry-reconcile.service exposure $r"
ok "systemd-analyze security: mirror $m, console $co, export job $e, inbox $i, reconciler with the Kubernetes drop-in $k (both OK), podman reconciler $r"

# The mirror as the unit starts it, from the installed environment file
# (systemd's VAR=value lines), on a free port instead of 5000.
"$FERRY" keygen -o "$T/k" >/dev/null
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
while IFS= read -r line; do
	case $line in '#'* | '') continue ;; esac
	printf -v "${line%%=*}" '%s' "${line#*=}"
done <"$A/etc/mirror.env"
[ "$FERRY_STORE" = /var/lib/ferry ] && [ "$FERRY_MIRROR_LISTEN" = 127.0.0.1:5000 ] ||
	fail "mirror.env: store '$FERRY_STORE', listen '$FERRY_MIRROR_LISTEN'"
# shellcheck disable=SC2086 # split as systemd splits $FERRY_MIRROR_OPTIONS
FERRY_STORE=$T/store "$FERRY" mirror serve --listen 127.0.0.1:0 $FERRY_MIRROR_OPTIONS \
	--port-file "$T/port" >"$T/mirror.out" 2>"$T/mirror.err" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
for _ in $(seq 1 100); do
	[ -s "$T/port" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$T/mirror.err" >&2; fail "the mirror did not start"; }
	sleep 0.05
done
[ -s "$T/port" ] || fail "the mirror wrote no port"
[ "$(curl -s "http://127.0.0.1:$(cat "$T/port")/readyz")" = ready ] || fail "/readyz"
kill "$pid"
wait "$pid" || fail "the mirror did not stop cleanly on SIGTERM"
grep -q "serving '$T/store'" "$T/mirror.err" || fail "the mirror did not serve FERRY_STORE: $(cat "$T/mirror.err")"
jq -e 'select(.path == "/readyz") | .status == 200' "$T/mirror.out" >/dev/null ||
	fail "no access log line on standard output: $(cat "$T/mirror.out")"
ok "mirror.env's defaults start a mirror on FERRY_STORE that logs each request as JSON on standard output"

expect_exit 0 "$FERRY" reconcile --config "$A/etc/reconcile.yaml" --store "$T/store" status
expect_out "STACK"
expect_exit 0 "$FERRY" reconcile --config "$A/etc/reconcile.yaml" --store "$T/store" --audit-log - run --once
grep -qx 'store: /var/lib/ferry' "$A/etc/reconcile.yaml" || fail "reconcile.yaml does not name /var/lib/ferry"
ok "the installed reconcile.yaml loads cleanly and runs with no stacks"

# The inbox as the unit starts it, from the installed environment file: a
# bundle put into FERRY_INBOX_DIR is imported, SIGTERM stops it cleanly.
unset FERRY_STORE
while IFS= read -r line; do
	case $line in '#'* | '') continue ;; esac
	printf -v "${line%%=*}" '%s' "${line#*=}"
done <"$A/etc/inbox.env"
[ "$FERRY_STORE" = /var/lib/ferry ] && [ "$FERRY_INBOX_DIR" = /var/lib/ferry-inbox ] ||
	fail "inbox.env: store '$FERRY_STORE', inbox '$FERRY_INBOX_DIR'"
mkdir -p "$T/files/x" "$T/inbox" "$T/bundles"
echo hello >"$T/files/x/hello.txt"
printf 'channel: x\nsources:\n  - file: files/x\n    name: tools/x\n    tag: v1\n' >"$T/x.yaml"
"$FERRY" export -q --spec "$T/x.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/x.db" \
	--cache "$T/cache" >/dev/null || fail "export"
# shellcheck disable=SC2086 # split as systemd splits $FERRY_INBOX_OPTIONS
FERRY_STORE=$T/store "$FERRY" inbox run --dir "$T/inbox" --settle 1 $FERRY_INBOX_OPTIONS \
	2>"$T/inbox.err" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
cp "$T/bundles/ferry-x-000001.tar" "$T/inbox/"
for _ in $(seq 1 100); do
	[ -f "$T/inbox/done/ferry-x-000001.tar" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$T/inbox.err" >&2; fail "the inbox stopped"; }
	sleep 0.1
done
[ -f "$T/inbox/done/ferry-x-000001.tar" ] || { cat "$T/inbox.err" >&2; fail "the inbox did not import"; }
kill "$pid"
wait "$pid" || fail "the inbox did not stop cleanly on SIGTERM"
"$FERRY" store ls --store "$T/store" --json | jq -e '.channels[0].channel == "x"' >/dev/null ||
	fail "not in the store"
ok "inbox.env's defaults run an inbox that imports a bundle into FERRY_STORE and stops on SIGTERM"
