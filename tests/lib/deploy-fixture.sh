# A deployment source for the reconciler's command tests, sourced after
# test-lib.sh. Provides:
#   deploy_git_init: a git identity in $HOME=$T/home, the bare repository
#     $T/deploy.git and its clone $T/work
#   deploy_manifest FILE [IMAGE]: a Deployment "app" whose image is pinned
#     by a digest (so require-digests passes), or IMAGE, written to FILE
#   deploy_store [SOURCES]: push $T/work, export it signed as channel c
#     (with SOURCES, more lines of the spec's sources) and import it into
#     the new store $T/store (trusting $T/key)
#   deploy_daemon: start "${R[@]}" run (R: the reconcile command line) with
#     its listener on a free port; sets DAEMON (stopped at exit) and URL,
#     logs to $T/daemon.log
#   deploy_app_store: all three, with the Deployment at app/deployment.yaml

deploy_git_init() {
	export HOME=$T/home GIT_CONFIG_NOSYSTEM=1
	mkdir -p "$HOME"
	git config --global user.name "Test" && git config --global user.email test@example.com
	git init -q --bare -b main "$T/deploy.git"
	git clone -q "$T/deploy.git" "$T/work" 2>/dev/null
}

deploy_manifest() {
	mkdir -p "$(dirname "$1")"
	cat >"$1" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: app, image: "${2:-mirror.local/library/app@sha256:$(printf '%064d' 1)}"}]}
YAML
}

deploy_store() {
	git -C "$T/work" add -A && git -C "$T/work" commit -qm one && git -C "$T/work" push -q origin main 2>/dev/null
	"$FERRY" keygen -o "$T/key" >/dev/null
	printf 'channel: c\nsources:\n  - git: %s\n%s' "$T/deploy.git" "${1:-}" >"$T/spec.yaml"
	mkdir -p "$T/bundles"
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache" >/dev/null
	"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
	"$FERRY" import -q --store "$T/store" "$T"/bundles/*.tar
}

deploy_daemon() {
	"${R[@]}" run --port-file "$T/port" -v 2>"$T/daemon.log" &
	DAEMON=$!
	at_exit 'kill $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null'
	for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	[ -s "$T/port" ] || { cat "$T/daemon.log" >&2; fail "daemon did not start"; }
	URL=http://127.0.0.1:$(cat "$T/port")
}

deploy_app_store() {
	deploy_git_init
	deploy_manifest "$T/work/app/deployment.yaml"
	deploy_store
}
