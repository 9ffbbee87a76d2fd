#!/usr/bin/env python3
"""Slow HTTP clients for the slow-client tests and bench/mirror-hostile.sh.

trickle.py PORT [--count N] [--sources A,B,...] [--interval S] [--body]
           [--path P] [--reconnect] [--report FILE] [--seconds S]

Opens N connections to 127.0.0.1:PORT, spread over the source addresses
(127.0.0.x, all loopback), and sends each request one byte every S seconds:
a request line and headers that never end, or with --body complete headers
announcing a body that then trickles. A connection the server cuts is
reported to FILE as "cut <seconds it lived>" (one line each) and, with
--reconnect, opened again. Runs for --seconds (default: until killed),
then reports each connection still open as "alive <seconds>".
"""
import argparse, selectors, socket, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--count", type=int, default=10)
ap.add_argument("--sources", default="127.0.0.1")
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--body", action="store_true")
ap.add_argument("--path", default="/v2/")
ap.add_argument("--reconnect", action="store_true")
ap.add_argument("--report")
ap.add_argument("--seconds", type=float, default=0)
a = ap.parse_args()
sources = a.sources.split(",")
report = open(a.report, "a", buffering=1) if a.report else None
sel = selectors.DefaultSelector()
conns = {}   # socket -> [opened, bytes sent, source]

if a.body:
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n" % a.path).encode()
else:
    head = b""
line = ("GET %s HTTP/1.1\r\nHost: x\r\n" % a.path).encode()

def stream(n):
    """The nth byte this connection sends after its headers."""
    if a.body:
        return b"x"
    if n < len(line):
        return line[n:n + 1]
    return b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"[(n - len(line)) % 50:][:1]

def connect(src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", a.port))
    except OSError:
        s.close()
        return
    s.setblocking(False)
    conns[s] = [time.monotonic(), 0, src, bool(head)]
    sel.register(s, selectors.EVENT_READ)

def lost(s):
    opened, _, src, _ = conns.pop(s)
    sel.unregister(s)
    s.close()
    if report:
        report.write("cut %.2f\n" % (time.monotonic() - opened))
    if a.reconnect:
        connect(src)

for i in range(a.count):
    connect(sources[i % len(sources)])
start = time.monotonic()
next_tick = start
while conns or a.reconnect:
    now = time.monotonic()
    if a.seconds and now - start > a.seconds:
        break
    if now >= next_tick:
        next_tick = now + a.interval
        for s in list(conns):
            st = conns[s]
            try:
                if st[3]:
                    s.send(head)
                    st[3] = False
                else:
                    s.send(stream(st[1]))
                    st[1] += 1
            except BlockingIOError:
                pass
            except OSError:
                lost(s)
    for key, _ in sel.select(timeout=max(0.0, min(0.2, next_tick - time.monotonic()))):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            lost(s)
if report:
    for s, st in conns.items():
        report.write("alive %.2f\n" % (time.monotonic() - st[0]))
sys.exit(0)
