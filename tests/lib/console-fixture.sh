# The site the console's tests look at, sourced after test-lib.sh and
# deploy-fixture.sh. console_site builds, under $T:
#   - store/: channel c (the deploy repository) and channel files (a file
#     artifact), both signed by $T/key; one bundle from an unknown key
#     rejected (an audit event with its reason)
#   - inbox/: volume 1 of a split bundle of channel files, waiting for the
#     others; a file named with markup, rejected
#   - r.yaml: three stacks on kubernetes (dry-run): web (auto-sync, applied:
#     in sync), prod (auto-sync off, never synced: out of sync) and broken
#     (its path does not exist: failed); the audit log is $T/audit.jsonl;
#     the control socket is open to the test's group
#   - viewers (vera:look) and operators (otto:act), bcrypt
# console_start [OPTIONS]: `ferry console` on a free port; sets CONSOLE and
#   CURL_URL; its log is $T/console.log, stopped at exit.
. "$SRC/tests/lib/registry.sh"

console_site() {
	deploy_app_store
	# channel files, twice: the second bundle split into volumes
	mkdir -p "$T/files/files" "$T/fbundles" "$T/fsplit"
	head -c 1000 /dev/urandom >"$T/files/files/one.bin"
	printf 'channel: files\nsources:\n  - file: files/files\n    name: tools/files\n    tag: v1\n' \
		>"$T/files.yaml"
	(cd "$T" && "$FERRY" export -q --spec files.yaml --key key.key --out fbundles \
		--state files.db --cache cache) >/dev/null || fail "export of channel files"
	"$FERRY" import -q --store "$T/store" "$T"/fbundles/*.tar || fail "import of channel files"
	head -c 300000 /dev/urandom >"$T/files/files/two.bin"
	(cd "$T" && "$FERRY" export -q --spec files.yaml --key key.key --out fsplit \
		--state files.db --cache cache --max-volume-size 128K) >/dev/null ||
		fail "split export"
	mkdir -p "$T/inbox"
	local first
	first=$(ls "$T"/fsplit/*.tar | sort | head -1)
	cp "$first" "$T/inbox/"
	# a file with markup in its name, which the inbox rejects (not a bundle)
	printf 'not a bundle' >"$T/inbox/<img src=x onerror=alert(1)>.tar"
	touch -d '-1 min' "$T/inbox/"*
	"$FERRY" inbox once --no-seed --settle 0 --store "$T/store" --dir "$T/inbox" >/dev/null ||
		fail "inbox pass"
	# a bundle from a key the store does not trust
	"$FERRY" keygen -o "$T/stranger" >/dev/null
	mkdir -p "$T/stranger-out"
	(cd "$T" && "$FERRY" export -q --spec files.yaml --key stranger.key --out stranger-out \
		--state stranger.db --cache cache) >/dev/null || fail "stranger's export"
	"$FERRY" import -q --store "$T/store" "$T"/stranger-out/*.tar 2>/dev/null &&
		fail "a bundle from an unknown key was imported"
	# the stacks
	AUDIT=$T/audit.jsonl
	: >"$AUDIT"
	# the control socket's group: one other than our own where we may give
	# it (root: any; others: a supplementary group), so that its owner
	# shows the config at work
	CONTROL_GROUP=$(id -gn)
	if [ "$(id -u)" = 0 ] && getent group nogroup >/dev/null; then
		CONTROL_GROUP=nogroup
	else
		for g in $(id -Gn); do [ "$g" = "$CONTROL_GROUP" ] || { CONTROL_GROUP=$g; break; }; done
	fi
	cat >"$T/r.yaml" <<YAML
store: $T/store
audit-log: $AUDIT
control-group: $CONTROL_GROUP
kubernetes: {dry-run: true}
stacks:
  - {name: web, source: {git: deploy, branch: main, path: app}, target: kubernetes, policy: {interval: 1h}}
  - {name: prod, source: {git: deploy, branch: main, path: app}, target: kubernetes, policy: {interval: 1h, auto-sync: false}}
  - {name: broken, source: {git: deploy, branch: main, path: nowhere}, target: kubernetes, policy: {interval: 1h}}
YAML
	R=("$FERRY" reconcile --config "$T/r.yaml")
	"${R[@]}" sync web -q >/dev/null || fail "sync of web"
	"${R[@]}" sync broken -q >/dev/null 2>&1 && fail "sync of broken succeeded"
	registry_htpasswd "$T/viewers" vera look || fail "htpasswd"
	registry_htpasswd "$T/operators" otto act || fail "htpasswd"
}

console_start() {
	rm -f "$T/console.port"
	"$FERRY" console --store "$T/store" --config "$T/r.yaml" --listen 127.0.0.1:0 \
		--port-file "$T/console.port" --viewers "$T/viewers" --operators "$T/operators" \
		--inbox "$T/inbox" --log "$T/console.log" "$@" 2>>"$T/console.err" &
	CONSOLE=$!
	at_exit 'kill $CONSOLE 2>/dev/null; wait $CONSOLE 2>/dev/null'
	for _ in $(seq 1 100); do [ -s "$T/console.port" ] && break; sleep 0.05; done
	[ -s "$T/console.port" ] || { cat "$T/console.err" >&2; fail "the console did not start"; }
	CURL_URL=http://127.0.0.1:$(cat "$T/console.port")
}
