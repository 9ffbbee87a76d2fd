# A Kubernetes API server for the reconciler's kubernetes command tests,
# sourced after test-lib.sh: the stand-in tests/tools/kube-api-stub.py, or a
# real kube-apiserver over etcd when one has been built. Provides:
#   kube_stub_start: start the stand-in on a free port of 127.0.0.1 (stopped
#     at exit); sets KUBE_URL, KUBE_LOG (its request log, one JSON object a
#     line) and KUBECONFIG_FILE (a kubeconfig naming it, namespace default)
#   kube_requests [FROM]: the requests logged after line FROM (default 0),
#     discovery, OpenAPI and /version left out, one line each:
#     METHOD PATH QUERY CONTENT-TYPE (query without kubectl's timeout)
#   kube_apiserver_start APISERVER, kube_curl: see below

kube_stub_start() {
	python3 "$SRC/tests/tools/kube-api-stub.py" "$T/kube.port" "$T/kube.log" 2>"$T/kube.err" &
	KUBE_STUB=$!
	at_exit 'kill $KUBE_STUB 2>/dev/null; wait $KUBE_STUB 2>/dev/null'
	for _ in $(seq 1 200); do [ -s "$T/kube.port" ] && break; sleep 0.05; done
	[ -s "$T/kube.port" ] || { cat "$T/kube.err" >&2; fail "the Kubernetes API stand-in did not start"; }
	KUBE_URL=http://127.0.0.1:$(cat "$T/kube.port")
	KUBE_LOG=$T/kube.log
	KUBECONFIG_FILE=$T/kubeconfig
	cat >"$KUBECONFIG_FILE" <<KC
apiVersion: v1
kind: Config
clusters: [{name: stub, cluster: {server: "$KUBE_URL"}}]
contexts: [{name: stub, context: {cluster: stub, user: stub, namespace: default}}]
users: [{name: stub, user: {}}]
current-context: stub
KC
}

kube_requests() {
	tail -n +"$((${1:-0} + 1))" "$KUBE_LOG" |
		jq -r 'select(.path | test("^/api(/v1)?$|^/apis(/[^/]+/[^/]+)?$|^/openapi|^/version|^/swagger") | not)
		       | [.method, .path, (.query | del(.timeout) | to_entries | map("\(.key)=\(.value)") | join("&")),
		          (.contentType // "-")] | join(" ")'
}

# kube_apiserver_start APISERVER: instead of the stand-in, a real
# kube-apiserver (the binary APISERVER, built by scripts/build-kube-apiserver.sh)
# over a private etcd, envtest-style: both on free ports of 127.0.0.1 with
# their data, certificates and keys in $T/kube, a bearer token with
# AlwaysAllow authorization, no controller manager, no scheduler, no
# kubelet; stopped at exit. Sets KUBE_URL, KUBE_TOKEN and KUBECONFIG_FILE
# (KUBE_LOG stays empty: a real server records nothing for kube_requests).
kube_apiserver_start() {
	local bin=$1 d=$T/kube eport pport port
	. "$SRC/tests/lib/registry.sh"
	mkdir -p "$d/certs"
	eport=$(_registry_free_port) && pport=$(_registry_free_port) && port=$(_registry_free_port) ||
		fail "no free port"
	etcd --name kube --data-dir "$d/etcd" --listen-client-urls "http://127.0.0.1:$eport" \
		--advertise-client-urls "http://127.0.0.1:$eport" --listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "kube=http://127.0.0.1:$pport" >"$d/etcd.log" 2>&1 &
	KUBE_ETCD=$!
	at_exit 'kill $KUBE_ETCD 2>/dev/null; wait $KUBE_ETCD 2>/dev/null'
	openssl genrsa -out "$d/sa.key" 2048 2>/dev/null && openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null ||
		fail "cannot make the service-account key pair"
	KUBE_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	printf '%s,admin,admin,system:masters\n' "$KUBE_TOKEN" >"$d/tokens.csv"
	"$bin" --etcd-servers "http://127.0.0.1:$eport" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--secure-port "$port" --insecure-port 0 --cert-dir "$d/certs" \
		--service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
		--service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.0.0.0/24 \
		--authorization-mode AlwaysAllow --token-auth-file "$d/tokens.csv" \
		--disable-admission-plugins ServiceAccount >"$d/apiserver.log" 2>&1 &
	KUBE_APISERVER_PID=$!
	at_exit 'kill $KUBE_APISERVER_PID 2>/dev/null; wait $KUBE_APISERVER_PID 2>/dev/null'
	KUBE_URL=https://127.0.0.1:$port
	for _ in $(seq 1 240); do
		curl -skf -H "Authorization: Bearer $KUBE_TOKEN" "$KUBE_URL/readyz" >/dev/null 2>&1 && break
		kill -0 "$KUBE_APISERVER_PID" 2>/dev/null || break
		sleep 0.5
	done
	curl -skf -H "Authorization: Bearer $KUBE_TOKEN" "$KUBE_URL/readyz" >/dev/null 2>&1 ||
		{ tail -n 20 "$d/etcd.log" "$d/apiserver.log" >&2; fail "kube-apiserver did not become ready"; }
	KUBE_LOG=
	KUBECONFIG_FILE=$T/kubeconfig
	cat >"$KUBECONFIG_FILE" <<KC
apiVersion: v1
kind: Config
clusters: [{name: envtest, cluster: {server: "$KUBE_URL", insecure-skip-tls-verify: true}}]
contexts: [{name: envtest, context: {cluster: envtest, user: admin, namespace: default}}]
users: [{name: admin, user: {token: "$KUBE_TOKEN"}}]
current-context: envtest
KC
}

# kube_curl METHOD PATH CONTENT-TYPE BODY: a request to whichever server runs
kube_curl() {
	curl -skf -X "$1" ${KUBE_TOKEN:+-H "Authorization: Bearer $KUBE_TOKEN"} -H "Content-Type: $3" \
		"$KUBE_URL$2" -d "$4"
}
