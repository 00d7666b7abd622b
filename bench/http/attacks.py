#!/usr/bin/env python3
"""Runs the hostile-client attacks against a tokenauth-server binary on loopback and prints
what they cost it: resident memory, the latency of a bystander's GET /v1/version during the
attack, responses received, log bytes. Each attack is bounded in time and count and sends
traffic to 127.0.0.0/8 only.

Usage: bench/http/attacks.py SERVER_BINARY [EXTRA_SERVER_FLAGS...]
Compare two builds by running it on each (the numbers in the README and closing notes).
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN = sys.argv[1]
EXTRA = sys.argv[2:]
PASSWORD = "attack-bench-admin"


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tokenauth-attacks-")
        self.log_path = os.path.join(self.dir, "server.log")
        env = dict(os.environ, TOKENAUTH_ADMIN_PASSWORD=PASSWORD)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "--http", "--listen", "127.0.0.1:0", "--data-dir",
                                      os.path.join(self.dir, "data")] + EXTRA, stderr=self.log, env=env)
        for _ in range(600):
            text = open(self.log_path).read()
            if '"event":"listening"' in text:
                line = [l for l in text.splitlines() if '"event":"listening"' in l][0]
                self.port = json.loads(line)["port"]
                return
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0

    def log_bytes(self):
        return os.path.getsize(self.log_path)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def connect(port, source="127.0.0.1", timeout=30):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def probe(port, source, timeout=30):
    """Seconds for a bystander's GET /v1/version, or None if it got no answer in time."""
    start = time.monotonic()
    try:
        s = connect(port, source, timeout)
        s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
        data = s.recv(4096)
        s.close()
        return time.monotonic() - start if data.startswith(b"HTTP/1.1 200") else None
    except OSError:
        return None


def probes_during(port, seconds, source="127.0.0.2"):
    results, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        results.append(probe(port, source, timeout=max(1, end - time.monotonic() + 5)))
        time.sleep(0.25)
    ok = [r for r in results if r is not None]
    return {"probes": len(results), "answered": len(ok),
            "p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
            "max_ms": round(max(ok) * 1000, 1) if ok else None}


def receive_all(s, seconds):
    s.settimeout(seconds)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    return data


def header_flood(srv, connections=4, megabytes=25):
    line = b"X-Flood: " + b"a" * 53 + b"\r\n"  # 64 bytes
    chunk = line * 16384  # 1 MiB
    statuses = []

    def one():
        s = connect(srv.port)
        s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: f\r\n")
        sent = 0
        try:
            for _ in range(megabytes):
                s.sendall(chunk)
                sent += 1
            s.sendall(b"\r\n")
        except OSError:
            pass
        statuses.append(receive_all(s, 5)[:12].decode(errors="replace") + f" after {sent} MiB")
        s.close()
    threads = [threading.Thread(target=one) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"answers": statuses, "rss_mib_after": round(srv.rss_mib(), 1)}


def slowloris(srv, connections=64, seconds=12):
    socks = []
    for _ in range(connections):
        try:
            s = connect(srv.port, "127.0.0.1", 5)
            s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: s\r\n")
            socks.append(s)
        except OSError:
            pass
    stop = threading.Event()

    def trickle():
        i = 0
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"X-Slow-%d: 1\r\n" % i)
                except OSError:
                    pass
            i += 1
            stop.wait(1)
    t = threading.Thread(target=trickle)
    t.start()
    result = probes_during(srv.port, seconds)
    stop.set()
    t.join()
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(4096) is not None:
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    result["tricklers_answered_or_closed"] = closed
    return result


def pipelining(srv, count):
    s = connect(srv.port)
    s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: p\r\n\r\n" * count)
    data = receive_all(s, 3)
    s.close()
    return {"sent": count, "200": data.count(b"HTTP/1.1 200"), "431": data.count(b"HTTP/1.1 431")}


def bad_content_length(srv):
    out = {}
    for value in [b"-1", b"100000000000000000000", b"70000"]:
        s = connect(srv.port)
        start = time.monotonic()
        s.sendall(b"POST /v1/session/login HTTP/1.1\r\nHost: c\r\nContent-Length: " + value + b"\r\n\r\n")
        data = receive_all(s, 15)
        out[value.decode()] = f"{data[9:12].decode() or 'none'} in {time.monotonic() - start:.2f} s"
        s.close()
    return out


def login_flood(srv, connections=40, seconds=10):
    body = json.dumps({"username": "admin", "password": "wrong"}).encode()
    request = (b"POST /v1/session/login HTTP/1.1\r\nHost: l\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    stop = threading.Event()
    counts = {}
    lock = threading.Lock()
    peak = [0.0]

    def flooder(i):
        while not stop.is_set():
            try:
                s = connect(srv.port, "127.0.0.%d" % (10 + i % 100), 30)
                while not stop.is_set():
                    s.sendall(request)
                    head = s.recv(65536)
                    if not head:
                        break
                    status = head[9:12].decode()
                    with lock:
                        counts[status] = counts.get(status, 0) + 1
                s.close()
            except OSError:
                pass

    def sampler():
        while not stop.is_set():
            peak[0] = max(peak[0], srv.rss_mib())
            stop.wait(0.1)
    threads = [threading.Thread(target=flooder, args=(i,)) for i in range(connections)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    time.sleep(1)
    result = probes_during(srv.port, seconds - 1, source="127.0.0.3")
    start = time.monotonic()
    s = connect(srv.port, "127.0.0.4", 60)
    good = json.dumps({"username": "admin", "password": PASSWORD}).encode()
    s.sendall((b"POST /v1/session/login HTTP/1.1\r\nHost: l\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
               % len(good)) + good)
    answer = receive_all(s, 60)[9:12].decode() or "none"
    result["good_login"] = f"{answer} in {time.monotonic() - start:.2f} s"
    stop.set()
    for t in threads:
        t.join()
    result["answers"] = counts
    result["peak_rss_mib"] = round(peak[0], 1)
    return result


def failure_log_flood(srv, failures=2000):
    """One request per round trip (not pipelined), so it measures servers that cannot pipeline."""
    before = srv.log_bytes()
    request = (b"GET /v1/session/who-am-i HTTP/1.1\r\nHost: a\r\n"
               b"Authorization: Bearer access-v1:" + b"A" * 72 + b"\r\n\r\n")
    s = connect(srv.port, "127.0.0.5")
    answered = 0
    for _ in range(failures):
        s.sendall(request)
        got = b""
        while not (b"\r\n\r\n" in got and got.rstrip().endswith(b"}")):
            d = s.recv(65536)
            if not d:
                break
            got += d
        answered += got.startswith(b"HTTP/1.1 ")
    s.close()
    time.sleep(0.5)
    return {"failures": failures, "answered": answered, "log_bytes_added": srv.log_bytes() - before}


def run(name, fn, *args):
    srv = Server()
    try:
        result = fn(srv, *args)
    finally:
        srv.stop()
    print(f"{name:22} {json.dumps(result)}", flush=True)


print(f"server: {BIN} {' '.join(EXTRA)}")
run("header_flood", header_flood)
run("slowloris", slowloris)
run("pipelined_20", pipelining, 20)
run("pipelined_300", pipelining, 300)
run("bad_content_length", bad_content_length)
run("login_flood", login_flood)
run("failure_log_flood", failure_log_flood)
