#!/usr/bin/env bash
# Run a throw-away local OCI registry (CNCF distribution, Debian package
# docker-registry) on 127.0.0.1 for ferry's tests. Source it:
#
#   . tests/lib/registry.sh
#   registry_start "$work/reg"                 # sets REGISTRY_ADDR, REGISTRY_PID
#   trap registry_stop EXIT
#   skopeo copy --dest-tls-verify=false ... "docker://$REGISTRY_ADDR/x:tag"
#   registry_stop
#
# With basic auth:
#   registry_htpasswd "$work/htpasswd" alice secret
#   registry_start "$work/reg" "$work/htpasswd"
#
# Call the functions directly, not inside $(...): they set variables in, and
# start the registry as a child of, the calling shell. They report errors by
# return status and do not depend on the caller's `set -e`; sourcing this file
# does not change the caller's shell options. Tests are expected to run with
# `set -euo pipefail`.
#
# Needs: docker-registry (override the binary with REGISTRY_BIN), curl, and
# bash's /dev/tcp (no python). registry_htpasswd prefers `htpasswd` from
# apache2-utils; without it, it falls back to perl's crypt(), which makes
# bcrypt hashes through Debian 12's libcrypt (perl-base is always installed).
# Tests that need htpasswd itself require apache2-utils.

REGISTRY_ADDR=${REGISTRY_ADDR:-}
REGISTRY_PID=${REGISTRY_PID:-}

# Print a TCP port on 127.0.0.1 that nothing listens on. Ports come from
# 20000-32767, below Linux's ephemeral range, so outgoing connections do not
# hold them. registry_start retries if the port is taken before the
# registry binds it.
_registry_free_port() {
	local tries=0 port
	while [ "$tries" -lt 50 ]; do
		tries=$((tries + 1))
		port=$((20000 + RANDOM % 12768))
		# A refused connection means the port is free.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "registry: no free port found" >&2
	return 1
}

# Quote a string for YAML (single quotes, '' inside).
_registry_yaml_str() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# _registry_config WORKDIR PORT [HTPASSWD_FILE]: write WORKDIR/config.yml.
_registry_config() {
	local workdir=$1 port=$2 htpasswd=${3:-}
	cat >"$workdir/config.yml" <<EOF || return 1
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $(_registry_yaml_str "$workdir/storage")
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: ferry-test-registry
EOF
	if [ -n "$htpasswd" ]; then
		cat >>"$workdir/config.yml" <<EOF || return 1
auth:
  htpasswd:
    realm: basic-realm
    path: $(_registry_yaml_str "$htpasswd")
EOF
	fi
}

_registry_show_log() {
	echo "registry: log $1:" >&2
	sed 's/^/  /' "$1" >&2 || true
}

# registry_start WORKDIR [HTPASSWD_FILE]
# Start a registry storing its data under WORKDIR/storage, with WORKDIR/
# config.yml, WORKDIR/registry.log and WORKDIR/registry.pid. Waits until
# /v2/ answers (200, or 401 with auth); gives up after
# REGISTRY_START_TIMEOUT seconds (default 10) and prints the log.
# Sets REGISTRY_ADDR=127.0.0.1:PORT and REGISTRY_PID.
registry_start() {
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then
		echo "usage: registry_start WORKDIR [HTPASSWD_FILE]" >&2
		return 2
	fi
	local workdir=$1 htpasswd=${2:-} bin=${REGISTRY_BIN:-docker-registry}
	local timeout=${REGISTRY_START_TIMEOUT:-10}
	local attempt=0 port pid code tries log

	command -v "$bin" >/dev/null 2>&1 || {
		echo "registry: $bin not found (Debian package docker-registry)" >&2
		return 1
	}
	command -v curl >/dev/null 2>&1 || {
		echo "registry: curl not found" >&2
		return 1
	}
	mkdir -p "$workdir/storage" || return 1
	workdir=$(cd "$workdir" && pwd) || return 1
	if [ -n "$htpasswd" ]; then
		[ -r "$htpasswd" ] || {
			echo "registry: cannot read htpasswd file $htpasswd" >&2
			return 1
		}
		htpasswd=$(cd "$(dirname "$htpasswd")" && pwd)/$(basename "$htpasswd") || return 1
	fi
	log=$workdir/registry.log

	while [ "$attempt" -lt 5 ]; do
		attempt=$((attempt + 1))
		port=$(_registry_free_port) || return 1
		_registry_config "$workdir" "$port" "$htpasswd" || return 1
		"$bin" serve "$workdir/config.yml" >"$log" 2>&1 </dev/null &
		pid=$!
		# Counted in polls, not by the clock: a virtual machine's wall
		# clock can jump, and $SECONDS with it.
		tries=$((timeout * 10))
		while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
			tries=$((tries - 1))
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
				"http://127.0.0.1:$port/v2/") || true
			case $code in
			200 | 401)
				REGISTRY_ADDR=127.0.0.1:$port
				REGISTRY_PID=$pid
				echo "$pid" >"$workdir/registry.pid"
				return 0
				;;
			esac
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "registry: no answer on 127.0.0.1:$port within ${timeout}s" >&2
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			_registry_show_log "$log"
			return 1
		fi
		wait "$pid" 2>/dev/null || true
		# Lost a race for the port: try another one.
		grep -q 'address already in use' "$log" 2>/dev/null && continue
		echo "registry: exited during start-up" >&2
		_registry_show_log "$log"
		return 1
	done
	echo "registry: could not bind a port after $attempt attempts" >&2
	_registry_show_log "$log"
	return 1
}

# True while PID runs; an exited child not yet reaped (zombie) counts as
# gone.
_registry_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	case ${stat##*) } in
	Z* | X*) return 1 ;;
	esac
	return 0
}

# registry_stop [WORKDIR]
# Stop the registry started last (REGISTRY_PID), or the one whose pid is in
# WORKDIR/registry.pid. Sends TERM, then KILL after 10 s, and returns once
# the process is gone. Unsets REGISTRY_ADDR/REGISTRY_PID if it stopped that
# one. Safe to call twice (e.g. from an EXIT trap).
registry_stop() {
	local pid=$REGISTRY_PID waited=0
	if [ $# -ge 1 ]; then
		pid=$(cat "$1/registry.pid" 2>/dev/null) || pid=
	fi
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		while _registry_alive "$pid"; do
			waited=$((waited + 1))
			if [ "$waited" -eq 100 ]; then kill -KILL "$pid" 2>/dev/null || true; fi
			sleep 0.1
		done
		# Reap it if it is a child of this shell.
		wait "$pid" 2>/dev/null || true
	fi
	if [ $# -ge 1 ]; then
		rm -f "$1/registry.pid"
	fi
	if [ -z "$pid" ] || [ "$pid" = "$REGISTRY_PID" ]; then
		REGISTRY_ADDR=
		REGISTRY_PID=
	fi
	return 0
}

# registry_htpasswd FILE USER PASSWORD
# Append a bcrypt entry (the only kind distribution accepts) to FILE.
registry_htpasswd() {
	if [ $# -ne 3 ]; then
		echo "usage: registry_htpasswd FILE USER PASSWORD" >&2
		return 2
	fi
	local file=$1 user=$2 pass=$3 hash
	if command -v htpasswd >/dev/null 2>&1; then
		hash=$(htpasswd -nbB "$user" "$pass") || return 1
		hash=${hash#*:}
	else
		# bcrypt cost 5 (htpasswd's default); the 22nd salt character only
		# carries 2 bits, so it is drawn from the 4 canonical ones.
		hash=$(perl -e '
			my @c = (".", "/", "A" .. "Z", "a" .. "z", "0" .. "9");
			my $salt = join("", map { $c[int(rand(@c))] } 1 .. 21)
				. (".", "O", "e", "u")[int(rand(4))];
			print crypt($ARGV[0], "\$2b\$05\$" . $salt);
		' "$pass") || return 1
	fi
	case $hash in
	\$2?\$*) ;;
	*)
		echo "registry: could not make a bcrypt hash (install apache2-utils)" >&2
		return 1
		;;
	esac
	printf '%s:%s\n' "$user" "$hash" >>"$file"
}
