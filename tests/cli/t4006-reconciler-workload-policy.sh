#!/usr/bin/env bash
# The workload policy on the podman and compose runtimes: a Pod with
# privileged, hostNetwork, hostPID and a hostPath '/', a compose service
# with privileged and '/:/host', added capabilities and a root user are each
# refused by object and rule before anything runs (the refusal is an
# audited event, outcome refused, exit 2); a stack's exceptions, which
# need a reason, let the same workload through and the event records the
# exception and its reason; host-paths match whole directories only; the
# kubernetes runtime leaves this to the cluster's admission control.
# Stand-in podman and compose commands record what would have run: podman
# itself is not run.
. "$(dirname "$0")/../lib/test-lib.sh"
need git jq

. "$SRC/tests/lib/deploy-fixture.sh"
deploy_git_init
mkdir -p "$T/work/hostile" "$T/work/caps" "$T/work/agent" "$T/work/near" "$T/work/compose"
D=sha256:$(printf '%064d' 1)
cat >"$T/work/hostile/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hostile}
spec:
  hostNetwork: true
  hostPID: yes
  containers:
    - name: c
      image: mirror.local/library/busybox@$D
      securityContext: {privileged: true}
  volumes:
    - {name: root, hostPath: {path: /}}
YAML
cat >"$T/work/caps/deployment.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: caps}
spec:
  selector: {matchLabels: {app: caps}}
  template:
    metadata: {labels: {app: caps}}
    spec:
      containers:
        - name: net
          image: mirror.local/library/busybox@$D
          securityContext: {capabilities: {add: [NET_ADMIN]}, runAsUser: 0}
YAML
cat >"$T/work/agent/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: agent}
spec:
  hostNetwork: true
  hostPID: true
  containers:
    - name: c
      image: mirror.local/library/busybox@$D
      securityContext: {privileged: true}
  volumes:
    - {name: data, hostPath: {path: /srv/data/agent}}
YAML
sed 's|/srv/data/agent|/srv/database|; s|name: agent|name: near|' "$T/work/agent/pod.yaml" >"$T/work/near/pod.yaml"
cat >"$T/work/compose/compose.yaml" <<YAML
services:
  web:
    image: mirror.local/library/busybox@$D
    privileged: true
    volumes: ["/:/host", "data:/data"]
volumes: {data: {}}
YAML
deploy_store

cat >"$T/fake-runtime" <<'SH'
#!/bin/sh
echo "$*" >>"$FAKE_LOG"
case " $* " in *" ps "*) echo '[]';; esac
exit 0
SH
chmod +x "$T/fake-runtime"
export FAKE_LOG=$T/runtime.log
: >"$FAKE_LOG"

cat >"$T/r.yaml" <<CFG
store: $T/store
podman: {command: $T/fake-runtime}
compose: {command: [$T/fake-runtime]}
kubernetes: {dry-run: true}
stacks:
  - {name: hostile, source: {git: deploy, branch: main, path: hostile}, runtime: podman}
  - {name: caps, source: {git: deploy, branch: main, path: caps}, runtime: podman}
  - name: hostile-compose
    source: {git: deploy, branch: main, path: compose}
    format: compose
    runtime: compose
  - name: agent
    source: {git: deploy, branch: main, path: agent}
    runtime: podman
    policy:
      workload:
        allow: [privileged, host-network, host-pid]
        host-paths: [/srv/data]
        reason: the node agent watches the host
  - name: near
    source: {git: deploy, branch: main, path: near}
    runtime: podman
    policy: {workload: {host-paths: [/srv/data], reason: data only}}
  - {name: cluster, source: {git: deploy, branch: main, path: hostile}, runtime: kubernetes}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
refused() { # STACK: the stack's last event is a refusal; its error on stdout
	"${R[@]}" history "$1" --json >"$T/h.json"
	jq -e 'last | .outcome == "refused" and .trigger == "manual"' "$T/h.json" >/dev/null ||
		fail "$1: no refused event: $(cat "$T/h.json")"
	jq -r 'last | .error' "$T/h.json"
}

expect_exit 2 "${R[@]}" sync hostile
for want in "Pod/hostile: privileged (container c)" "Pod/hostile: host-network" "Pod/hostile: host-pid" \
	"Pod/hostile: host-path ('/' in volume root)"; do
	expect_err "$want"
	refused hostile | grep -qF "$want" || fail "the event lacks '$want': $(refused hostile)"
done
expect_err "stack 'hostile': the workload policy refuses"
ok "a Pod with privileged, hostNetwork, hostPID and hostPath / is refused naming each rule, and the refusal is audited"

expect_exit 2 "${R[@]}" sync hostile-compose
for want in "service web: privileged" "service web: host-path (bind mount '/')"; do
	expect_err "$want"
	refused hostile-compose | grep -qF "$want" || fail "the event lacks '$want'"
done
grep -q "data:/data\|bind mount 'data'" "$T/err" && fail "a named volume was judged a bind mount"
ok "a compose service with privileged and /:/host is refused naming both, and audited"

expect_exit 2 "${R[@]}" sync caps
expect_err "Deployment/caps: capabilities (NET_ADMIN in container net)"
expect_err "Deployment/caps: run-as-root (container net)"
refused caps >/dev/null
ok "added capabilities and a root user are refused"

expect_exit 2 "${R[@]}" sync near
expect_err "Pod/near: host-path ('/srv/database' in volume data)"
expect_err "Pod/near: privileged"
ok "host-paths match whole directories: /srv/data does not allow /srv/database"

[ ! -s "$FAKE_LOG" ] || fail "a refused stack reached the runtime: $(cat "$FAKE_LOG")"
ok "nothing refused reached podman or compose"

expect_exit 0 "${R[@]}" sync agent
"${R[@]}" history agent --json >"$T/h.json"
jq -e 'last | .outcome == "applied"' "$T/h.json" >/dev/null || fail "agent not applied: $(cat "$T/h.json")"
detail=$(jq -r 'last | .detail' "$T/h.json")
for want in "workload policy exceptions (the node agent watches the host)" "Pod/agent: privileged (container c)" \
	"Pod/agent: host-network" "Pod/agent: host-pid" "Pod/agent: host-path ('/srv/data/agent' in volume data)"; do
	case $detail in *"$want"*) ;; *) fail "the applied event lacks '$want': $detail";; esac
done
grep -q "kube play" "$FAKE_LOG" || fail "the allowed stack was not played: $(cat "$FAKE_LOG")"
ok "an allowed exception applies, and the event records each exception with its reason"

expect_exit 0 "${R[@]}" sync cluster
ok "the kubernetes runtime leaves the workload policy to the cluster's admission control"

cp "$T/r.yaml" "$T/ok.yaml"
printf 'store: %s\nstacks:\n  - name: x\n    source: {git: deploy, branch: main}\n    policy: {workload: {allow: [privileged]}}\n' "$T/store" >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "bad.yaml:5: a workload exception needs a reason (policy.workload.reason)"
printf 'store: %s\nstacks:\n  - name: x\n    source: {git: deploy, branch: main}\n    policy: {workload: {allow: [root], reason: r}}\n' "$T/store" >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "workload allow takes privileged, host-network, host-pid, host-ipc, host-path, capabilities or run-as-root, not 'root'"
printf 'store: %s\nstacks:\n  - name: x\n    source: {git: deploy, branch: main}\n    policy: {workload: {host-paths: [/], reason: r}}\n' "$T/store" >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "host-paths wants absolute directories other than '/'"
ok "an exception without a reason, an unknown rule and host-paths '/' are config errors"
