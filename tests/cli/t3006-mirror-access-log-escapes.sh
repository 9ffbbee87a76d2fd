#!/usr/bin/env bash
# The mirror's access log is one valid JSON object a line whatever a client
# sends: requests whose method and path carry control bytes (ESC, CR, DEL,
# a C1 byte) and invalid UTF-8 are logged with those bytes escaped as \xNN,
# and every line parses with python3's json.loads.
. "$(dirname "$0")/../lib/test-lib.sh"
need python3
. "$SRC/tests/lib/mirror.sh"

"$FERRY" keygen -o "$T/k" >/dev/null
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
mirror_start "$T/store" --access-log "$T/access.log" || fail "mirror did not start"
at_exit mirror_stop

python3 - "$MIRROR_PORT" <<'PY' || fail "cannot send the requests"
import socket, sys
port = int(sys.argv[1])
reqs = [
    b'GET /v2/\x1b[2Kok\xff\xc2\x9b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    b'G\x7fE\x01T /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    b'\xffGET /v2/a%0d%0aforged HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    b'GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
]
for r in reqs:
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(r)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
PY
for i in $(seq 1 50); do
	[ "$(wc -l <"$T/access.log" 2>/dev/null || echo 0)" -ge 2 ] && break
	sleep 0.1
done
python3 - "$T/access.log" <<'PY' || fail "the access log is not JSON lines: $(od -c "$T/access.log" | head -30)"
import json, sys
raw = open(sys.argv[1], 'rb').read()
lines = raw.split(b'\n')
assert lines[-1] == b'', 'no final newline'
n = 0
for l in lines[:-1]:
    t = l.decode('utf-8')  # raises on invalid UTF-8
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in t), repr(t)
    o = json.loads(t)
    for k in ('time', 'client', 'method', 'path', 'status', 'bytes', 'ms'):
        assert k in o, (k, o)
    n += 1
assert n >= 2, n
paths = [json.loads(l)['path'] for l in lines[:-1]]
assert any('\\x1b[2Kok\\xff\\xc2\\x9b' in p for p in paths), paths
PY
ok "access log: every line is JSON; control bytes and invalid UTF-8 in method and path appear as \\xNN"
