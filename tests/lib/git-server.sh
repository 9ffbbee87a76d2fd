# Real git servers on 127.0.0.1 for command tests, sourced after
# test-lib.sh. Each server serves the bare repositories under a directory,
# listens on a free port and is stopped by its PID when the test exits.
#
#   git_daemon_start REPODIR        -> $GIT_DAEMON_URL   (git://127.0.0.1:PORT)
#   git_http_start REPODIR [TOKEN]  -> $GIT_HTTP_URL     (http://127.0.0.1:PORT/git)
#                                      $GIT_HTTP_AUTH_URL (…/auth, user "ferry",
#                                      password TOKEN; only when TOKEN is given)
#   git_daemon_stop, git_http_stop
#
# With GIT_SERVER_PUSH=1 set when a server starts, it accepts pushes
# (git daemon --enable=receive-pack; http.receivepack for git-http-backend).
#
# Both need their binary (git daemon, lighttpd + git-http-backend); tests
# skip (exit 77) when it is missing.

git_free_port() {
	python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

_git_wait_port() {
	local port=$1 pid=$2 i
	for i in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

git_daemon_start() {
	local repos=$1 port pid
	[ -x "$(git --exec-path)/git-daemon" ] || skip_all "needs git daemon"
	port=$(git_free_port)
	git daemon --listen=127.0.0.1 --port="$port" --base-path="$repos" --export-all \
		${GIT_SERVER_PUSH:+--enable=receive-pack} --reuseaddr --pid-file="$T/git-daemon.pid" "$repos" \
		>"$T/git-daemon.log" 2>&1 &
	pid=$!
	at_exit git_daemon_stop
	_git_wait_port "$port" "$pid" || { cat "$T/git-daemon.log" >&2; fail "git daemon did not start"; }
	GIT_DAEMON_URL=git://127.0.0.1:$port
}

git_daemon_stop() {
	[ -f "$T/git-daemon.pid" ] || return 0
	kill "$(cat "$T/git-daemon.pid")" 2>/dev/null || true
	rm -f "$T/git-daemon.pid"
}

git_http_start() {
	local repos=$1 token=${2:-} port backend
	command -v lighttpd >/dev/null 2>&1 || skip_all "needs lighttpd"
	backend=$(git --exec-path)/git-http-backend
	[ -x "$backend" ] || skip_all "needs git-http-backend"
	port=$(git_free_port)
	mkdir -p "$T/www"
	local push=
	[ -z "${GIT_SERVER_PUSH:-}" ] ||
		push=', "GIT_CONFIG_COUNT" => "1", "GIT_CONFIG_KEY_0" => "http.receivepack", "GIT_CONFIG_VALUE_0" => "true"'
	cat >"$T/lighttpd.conf" <<EOF
server.modules = ( "mod_alias", "mod_auth", "mod_authn_file", "mod_cgi", "mod_setenv" )
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$T/www"
server.pid-file = "$T/lighttpd.pid"
server.errorlog = "$T/lighttpd.log"
alias.url = ( "/git/" => "$backend/", "/auth/" => "$backend/" )
\$HTTP["url"] =~ "^/(git|auth)/" {
  cgi.assign = ( "" => "" )
  setenv.add-environment = ( "GIT_PROJECT_ROOT" => "$repos", "GIT_HTTP_EXPORT_ALL" => ""$push )
}
EOF
	if [ -n "$token" ]; then
		printf 'ferry:%s\n' "$token" >"$T/lighttpd.users"
		cat >>"$T/lighttpd.conf" <<EOF
auth.backend = "plain"
auth.backend.plain.userfile = "$T/lighttpd.users"
auth.require = ( "/auth/" => ( "method" => "basic", "realm" => "git", "require" => "valid-user" ) )
EOF
	fi
	lighttpd -D -f "$T/lighttpd.conf" >>"$T/lighttpd.log" 2>&1 &
	GIT_HTTP_PID=$!
	at_exit git_http_stop
	_git_wait_port "$port" "$GIT_HTTP_PID" || { cat "$T/lighttpd.log" >&2; fail "lighttpd did not start"; }
	GIT_HTTP_URL=http://127.0.0.1:$port/git
	GIT_HTTP_AUTH_URL=http://127.0.0.1:$port/auth
}

git_http_stop() {
	[ -n "${GIT_HTTP_PID:-}" ] || return 0
	kill "$GIT_HTTP_PID" 2>/dev/null || true
	wait "$GIT_HTTP_PID" 2>/dev/null || true
	GIT_HTTP_PID=
}

# A hermetic git for fixtures: no user or system config.
git_test_env() {
	export HOME=$T/home GIT_CONFIG_NOSYSTEM=1 XDG_CONFIG_HOME=$T/home/.config
	mkdir -p "$HOME"
	git config --global user.name "Test"
	git config --global user.email "test@example.com"
	git config --global init.defaultBranch main
	git config --global protocol.file.allow always
}

# git_seed_store SRC: a signing key, a store trusting it and an export spec
# of the repository SRC as platform/deploy, for git_seed_ship.
git_seed_store() {
	"$FERRY" keygen -o "$T/k" >/dev/null
	printf 'channel: git\nsources:\n  - git: %s\n    name: platform/deploy\n' "$1" >"$T/spec.yaml"
	mkdir -p "$T/bundles"
	"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
	_git_ship_n=0
}
# git_seed_ship [IMPORT OPTIONS...]: export the next bundle of the spec and
# import it into the store (import seeds the targets unless --no-seed).
git_seed_ship() {
	_git_ship_n=$((_git_ship_n + 1))
	"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache" >/dev/null || fail "export $_git_ship_n failed"
	"$FERRY" import --store "$T/store" "$T"/bundles/ferry-git-00000$_git_ship_n.tar "$@"
}
