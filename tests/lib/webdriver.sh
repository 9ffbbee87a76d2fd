# Drive Debian's headless Chromium through chromedriver's WebDriver API
# with curl and jq, for browser tests (tests/cli/t6*-*browser*.sh). Sourced
# after test-lib.sh. Provides:
#   wd_start: chromedriver on a free loopback port and a browser session
#     (1366x768, no network beyond loopback is asked for); stopped at exit
#   wd_go URL, wd_source (the page's HTML on stdout), wd_title, wd_url
#   wd_type CSS TEXT, wd_click CSS, wd_check CSS (tick a checkbox)
#   wd_count CSS: how many elements match
#   wd_shot NAME: a PNG screenshot into $WD_ARTIFACTS/NAME.png
#   wd_cookie NAME: a cookie's value

WD_ARTIFACTS=${FERRY_TEST_ARTIFACTS:-${FERRY_BUILD_DIR:-$T}/test-artifacts}/$TEST_NAME

# wd METHOD PATH [JSON]: the response's JSON on stdout; fails on a WebDriver error
wd() {
	local out
	out=$(curl -s -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} \
		"http://127.0.0.1:$WD_PORT$2") || fail "webdriver: no answer to $1 $2"
	if jq -e '.value | type == "object" and has("error")' <<<"$out" >/dev/null 2>&1; then
		fail "webdriver: $1 $2: $(jq -r '.value.error + ": " + .value.message' <<<"$out" | head -3)"
	fi
	printf '%s' "$out"
}

wd_start() {
	need chromium chromedriver curl jq
	local _
	mkdir -p "$WD_ARTIFACTS"
	# The browser's profile and temporary files in a short directory of
	# their own: its singleton socket lives under TMPDIR, and a socket path
	# longer than 107 bytes makes it exit at start (a deep build directory
	# is enough for that)
	WD_DIR=$(mktemp -d /tmp/ferry-wd.XXXXXX)
	WD_PID= WD_S=
	at_exit 'wd_stop'
	for _ in $(seq 1 20); do
		WD_PORT=$((20000 + RANDOM % 30000))
		TMPDIR=$WD_DIR chromedriver --port="$WD_PORT" --allowed-ips=127.0.0.1 --verbose \
			--log-path="$T/chromedriver.log" >"$T/chromedriver.out" 2>&1 &
		WD_PID=$!
		for _ in $(seq 1 50); do
			curl -s "http://127.0.0.1:$WD_PORT/status" 2>/dev/null | jq -e .value.ready >/dev/null 2>&1 &&
				break 2
			kill -0 "$WD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$WD_PID" 2>/dev/null; wait "$WD_PID" 2>/dev/null || true
		WD_PID=
	done
	[ -n "$WD_PID" ] || { cat "$T/chromedriver.log" >&2; fail "chromedriver did not start"; }
	# The browser itself, not Debian's launcher script (which probes
	# /dev/shm and the CPU with shell arithmetic that some hosts trip on)
	WD_CHROME=${FERRY_TEST_CHROME:-/usr/lib/chromium/chromium}
	[ -x "$WD_CHROME" ] || WD_CHROME=$(command -v chromium)
	local try caps out
	for try in 1 2; do
		rm -rf "$WD_DIR/profile"; mkdir -p "$WD_DIR/profile"
		caps=$(printf '%s\n' "${WD_CHROME_ARGS[@]}" "--user-data-dir=$WD_DIR/profile" |
			jq -R . | jq -s --arg bin "$WD_CHROME" '{capabilities: {alwaysMatch:
			{browserName: "chrome", "goog:chromeOptions": {binary: $bin, args: .}}}}')
		out=$(curl -s -X POST -H 'Content-Type: application/json' -d "$caps" \
			"http://127.0.0.1:$WD_PORT/session") || out=
		WD_S=$(jq -r '.value.sessionId // empty' <<<"$out" 2>/dev/null) || WD_S=
		[ -n "$WD_S" ] && return 0
		echo "# webdriver: no session (try $try): $(jq -r '.value.message // .' <<<"$out" 2>/dev/null | head -3)" >&2
		sleep 1
	done
	# Say why: the browser run by hand with the same flags, and the driver's log
	echo "# chromium run directly:" >&2
	local rc=0
	TMPDIR=$WD_DIR timeout 30 "$WD_CHROME" "${WD_CHROME_ARGS[@]}" --user-data-dir="$WD_DIR/direct" \
		--dump-dom about:blank >"$T/chrome-direct.out" 2>&1 || rc=$?
	tail -20 "$T/chrome-direct.out" >&2
	echo "# (exit status $rc)" >&2
	echo "# chromedriver log:" >&2
	grep -E 'SEVERE|WARNING|ERROR|Launching|exited|DevTools' "$T/chromedriver.log" |
		cut -c1-400 | tail -20 >&2
	fail "no browser session"
}

WD_CHROME_ARGS=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage
	--window-size=1366,768 --no-first-run --disable-background-networking
	--disable-component-update --disable-sync --disable-default-apps --disable-quic
	--disable-crash-reporter --disable-breakpad --no-default-browser-check)

wd_stop() {
	[ -n "${WD_S:-}" ] && curl -s -X DELETE "http://127.0.0.1:$WD_PORT/session/$WD_S" >/dev/null 2>&1
	[ -n "${WD_PID:-}" ] && { kill "$WD_PID" 2>/dev/null; wait "$WD_PID" 2>/dev/null; }
	[ -n "${WD_DIR:-}" ] && rm -rf "$WD_DIR"
	return 0
}

wd_go() { wd POST "/session/$WD_S/url" "$(jq -n --arg u "$1" '{url: $u}')" >/dev/null; }
wd_source() { wd GET "/session/$WD_S/source" | jq -r .value; }
wd_title() { wd GET "/session/$WD_S/title" | jq -r .value; }
wd_url() { wd GET "/session/$WD_S/url" | jq -r .value; }
wd_find() {
	wd POST "/session/$WD_S/element" "$(jq -n --arg c "$1" '{using: "css selector", value: $c}')" |
		jq -r '.value["element-6066-11e4-a52e-4f735466cecf"]'
}
wd_count() {
	wd POST "/session/$WD_S/elements" "$(jq -n --arg c "$1" '{using: "css selector", value: $c}')" |
		jq '.value | length'
}
wd_type() {
	local e
	e=$(wd_find "$1")
	wd POST "/session/$WD_S/element/$e/value" "$(jq -n --arg t "$2" '{text: $t}')" >/dev/null
}
wd_click() {
	local e
	e=$(wd_find "$1")
	wd POST "/session/$WD_S/element/$e/click" '{}' >/dev/null
}
wd_check() { wd_click "$1"; }
wd_shot() {
	wd GET "/session/$WD_S/screenshot" | jq -r .value | base64 -d >"$WD_ARTIFACTS/$1.png" ||
		fail "screenshot $1"
}
wd_cookie() { wd GET "/session/$WD_S/cookie/$1" | jq -r .value.value; }
