#!/usr/bin/env python3
"""The measurements of bench/scale/run.sh (which builds the server and documents them).

Usage: scale.py SERVER_BINARY OUT.json SIZE [SIZE ...]
"""
import http.client
import json
import os
import signal
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

PASSWORD = "bench-admin-password"
SAMPLES = 9


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Server:
    def __init__(self, binary, data_dir):
        self.log_path = data_dir + ".log"
        self.log = open(self.log_path, "w")
        start = time.perf_counter()
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                                     stderr=self.log, stdout=subprocess.DEVNULL,
                                     env=dict(os.environ, TOKENAUTH_ADMIN_PASSWORD=PASSWORD))
        self.port = None
        while self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + open(self.log_path).read())
            for line in open(self.log_path):
                if '"event":"listening"' in line:
                    self.port = json.loads(line)["port"]
            time.sleep(0.005)
        self.startup_s = time.perf_counter() - start
        self.conn = None
        self.token = None

    def connect(self):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ssl._create_unverified_context(),
                                                timeout=600)

    def call(self, method, path, body=None, token=None):
        for attempt in (0, 1):  # an idle keep-alive connection may have been closed
            try:
                if self.conn is None:
                    self.connect()
                headers = {"Content-Type": "application/json"}
                if token or self.token:
                    headers["Authorization"] = "Bearer " + (token or self.token)
                self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def login(self):
        status, body = self.call("POST", "/v1/session/login", {"username": "admin", "password": PASSWORD})
        assert status == 200, body
        self.token = json.loads(body)["bearer_token"]

    def rss(self):
        return rss(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.log.close()


def fill(db_path, tokens):
    """Users holding two tokens each (auth ids from 100,000), inserted in one transaction."""
    users = max(1, tokens // 2)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA synchronous = OFF")
    db.executescript(f"""
        BEGIN;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {users})
        INSERT INTO principals (auth_id, kind, name, primary_group, session_binding, name_key)
            SELECT 100000 + i, 'user', printf('scale-%07d', i), 513, randomblob(16), printf('scale-%07d', i) FROM n;
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {tokens} - 1)
        INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, enabled, hash_scheme, name)
            SELECT randomblob(16), randomblob(32), 100001 + i / 2, 500, 1700000000000000000, 1, 2,
                   printf('token-%07d', i) FROM n;
        UPDATE meta SET value = '{100000 + users + 1000}' WHERE key = 'next_auth_id';
        COMMIT;
    """)
    db.close()


def timed(server, method, path, body=None, expect=200):
    start = time.perf_counter()
    status, data = server.call(method, path, body)
    elapsed = (time.perf_counter() - start) * 1000
    assert status == expect, (method, path, status, data[:300])
    return elapsed, data


def settle(server, seconds=1.0):
    time.sleep(seconds)
    return server.rss()


def measure(binary, tokens):
    out = {"tokens": tokens}
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        Server(binary, data).stop()  # creates the store
        fill(os.path.join(data, "tokenauth.db"), tokens)
        s = Server(binary, data)
        try:
            out["startup_s"] = s.startup_s
            s.login()
            out["rss_idle_bytes"] = settle(s)

            new_user = lambda name, password=None: {"name": name, "primary_group": "513", "uid": "",
                                                    "home_directory": None, "password": password}
            ops = {"create_user": [], "delete_user": [], "create_role": [], "add_member": [],
                   "create_user_password": []}
            for i in range(SAMPLES):
                ms, body = timed(s, "POST", "/v1/users/", new_user(f"bench-{i}"))
                ops["create_user"].append(ms)
                uid = json.loads(body)["id"]
                ms, _ = timed(s, "POST", "/v1/auth/roles/", {"name": f"bench-role-{i}", "description": "",
                                                             "privileges": ["PRIVILEGE_ANALYTICS_READ"]})
                ops["create_role"].append(ms)
                ms, _ = timed(s, "POST", f"/v1/auth/roles/bench-role-{i}/members", {"auth_id": uid})
                ops["add_member"].append(ms)
                ms, _ = timed(s, "DELETE", f"/v1/users/{uid}")
                ops["delete_user"].append(ms)
                ms, body = timed(s, "POST", "/v1/users/", new_user(f"bench-pw-{i}", "a-password-of-some-length"))
                ops["create_user_password"].append(ms)
            out["ops_ms"] = {k: statistics.median(v) for k, v in ops.items()}

            before = settle(s)
            for i in range(50):  # 100 directory writes
                _, body = timed(s, "POST", "/v1/users/", new_user(f"churn-{i}"))
                timed(s, "DELETE", "/v1/users/" + json.loads(body)["id"])
            out["writes"] = {"count": 100, "rss_before": before, "rss_after": settle(s)}

            before = settle(s)
            peak = before
            s.conn.request("GET", "/v1/auth/access-tokens/", headers={"Authorization": "Bearer " + s.token})
            start = time.perf_counter()
            r = s.conn.getresponse()
            assert r.status == 200
            size = entries = 0
            tail = b""
            marker = b'"creation_time":'
            chunks = 0
            while True:
                piece = r.read(1 << 16)
                if not piece:
                    break
                size += len(piece)
                text = tail + piece
                entries += text.count(marker)
                tail = text[-(len(marker) - 1):]
                if marker in tail:
                    entries -= 1
                chunks += 1
                if chunks % 8 == 0:
                    peak = max(peak, s.rss())
            seconds = time.perf_counter() - start
            after = s.rss()
            for _ in range(50):  # what the response held goes back after its last byte
                if after <= before * 1.1:
                    break
                time.sleep(0.1)
                after = s.rss()
            assert entries == tokens, (entries, tokens)
            out["list"] = {"bytes": size, "seconds": seconds, "entries": entries, "rss_before": before,
                           "rss_peak": peak, "rss_after": after}
        finally:
            s.stop()
    print(f"scale {tokens:>8} tokens: start-up {out['startup_s']:.2f} s, RSS idle {out['rss_idle_bytes'] / tokens:.0f} B/token, "
          + ", ".join(f"{k} {v:.1f} ms" for k, v in out["ops_ms"].items())
          + f", list {out['list']['bytes'] / 1e6 / out['list']['seconds']:.0f} MB/s, "
          f"growth {(out['list']['rss_peak'] - out['list']['rss_before']) / 1e6:.1f} MB", file=sys.stderr)
    return out


def main():
    binary, out_path, sizes = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]]
    results = [measure(binary, n) for n in sizes]
    with open(out_path, "w") as f:
        json.dump({"sizes": results}, f)


if __name__ == "__main__":
    main()
