# Rootful podman for command tests, sourced after test-lib.sh: its own
# --root/--runroot under $T, vfs storage, and the containers.conf and
# registries.conf that work on these machines (see the testing notes in
# docs/guide/reconciler.md).
#   podman_setup REGISTRY...   writes $T/containers.conf, $T/registries.conf
#                              (REGISTRY marked insecure), sets PODMAN=(...),
#                              PODMAN_ROOT and PODMAN_RUNROOT
#                              and exports CONTAINERS_CONF/_REGISTRIES_CONF;
#                              skips the test (77) when podman cannot run here
#   podman_reconcile_config    prints the reconciler config's podman: section
#                              for this podman (root, runroot, vfs, the confs)
#   podman_cleanup             removes every pod and container of $T's podman,
#                              the kube network and the runroot; register it with
#                              at_exit after whatever may still deploy (cleanups
#                              run in the order they were registered)

podman_setup() {
	local r
	command -v podman >/dev/null 2>&1 || skip_all "needs podman (scripts/install-deps.sh installs it)"
	[ "$(id -u)" = 0 ] || skip_all "needs root (rootful podman)"
	cat >"$T/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
	echo 'unqualified-search-registries = []' >"$T/registries.conf"
	for r in "$@"; do
		printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$r" >>"$T/registries.conf"
	done
	export CONTAINERS_CONF=$T/containers.conf CONTAINERS_REGISTRIES_CONF=$T/registries.conf
	# podman refuses a runroot longer than 50 characters: a short one in /tmp
	PODMAN_ROOT=$T/podman/root
	PODMAN_RUNROOT=$(mktemp -d /tmp/ferry-run.XXXXXX)
	PODMAN=(podman --root "$PODMAN_ROOT" --runroot "$PODMAN_RUNROOT" --storage-driver vfs)
	"${PODMAN[@]}" info >"$T/podman-info.log" 2>&1 ||
		{ rm -rf "$PODMAN_RUNROOT"; skip_all "podman cannot run here: $(tail -n 1 "$T/podman-info.log")"; }
}

podman_reconcile_config() {
	cat <<CFG
podman:
  root: $PODMAN_ROOT
  runroot: $PODMAN_RUNROOT
  storage-driver: vfs
  containers-conf: containers.conf
  registries-conf: registries.conf
CFG
}

podman_cleanup() {
	"${PODMAN[@]}" pod rm -af -t 0 >/dev/null 2>&1 || true
	"${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1 || true
	podman network rm -f podman-default-kube-network >/dev/null 2>&1 || true
	rm -rf "$PODMAN_RUNROOT"
}
