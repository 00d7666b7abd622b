#!/usr/bin/env bash
# PostgreSQL benchmarks: a throwaway PostgreSQL 15 (fsync on, as in production) on a Unix
# socket, two tokenauth-server processes (--http on loopback) sharing it, then:
#   create+del   durable token create + delete pairs through server A (each a commit)
#   writers      the same with 1, then 8 concurrent writers through server A
#   revocation   a token disabled through A, polled on B until B refuses it: p50 and p99
#                over ROUNDS tokens (the change log's NOTIFY wakes B's follower)
#   replica      tokenauth::postgres::replica against a memory_token_store (ns per validation)
#                and a token disabled through A until the replica refuses it (ROUNDS tokens)
# Usage: bench/postgres/run.sh [DURATION_SECONDS (default 5)] [ROUNDS (default 200)]
# TOKENAUTH_BENCH_JSON=FILE also writes the figures there (bench/report.sh reads it).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5}
rounds=${2:-200}
./scripts/deps.sh --test
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-server tokenauth-replica-bench >/dev/null
server_bin=./build-bench/reference_server/tokenauth-server
pgbin=/usr/lib/postgresql/15/bin

work=$(mktemp -d)
as_pg=()
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$work"; as_pg=(runuser -u postgres --); fi
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -A trust -U tokenauth >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -o "-k $work -c listen_addresses=''" start >/dev/null
db="postgresql:///postgres?host=$work&user=tokenauth"

# The revocation loop polls B with tokens it does not know yet (401) until it does: without
# --auth-failures-per-minute 0, B's failure throttle would answer 429 from the 101st on.
start_server() {  # name: starts it in the background (its port: port_of name)
    TOKENAUTH_ADMIN_PASSWORD=bench-admin "$server_bin" --http --listen 127.0.0.1:0 --data-dir "$work/$1" \
        --database "$db" --session-key-file "$work/session.key" --auth-failures-per-minute 0 \
        >/dev/null 2>"$work/$1.log" &
    pids+=($!)
}
port_of() {
    (set +o pipefail; timeout 60 tail -n +1 -f "$work/$1.log" | grep -m1 -q '"event":"listening"')
    grep -m1 '"event":"listening"' "$work/$1.log" | sed -E 's/.*"port":([0-9]+).*/\1/'
}
start_server a
a=$(port_of a)
start_server b
b=$(port_of b)

json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }
admin=$(curl -sf "http://127.0.0.1:$a/v1/session/login" -d '{"username":"admin","password":"bench-admin"}' | json_field bearer_token)
for u in bench-{0..7}; do
    curl -sf -H "Authorization: Bearer $admin" "http://127.0.0.1:$a/v1/users/" \
        -d "{\"name\":\"$u\",\"primary_group\":\"0\",\"uid\":\"\",\"home_directory\":null,\"password\":null}" >/dev/null
done
echo "two servers on one PostgreSQL 15 (fsync on); wrk 2 threads x 1 connection, ${duration}s"
clients=${TOKENAUTH_BENCH_CLIENTS:-2}
pairs=$(wrk -t"$clients" -c"$clients" -d "${duration}s" -s bench/http/create_delete.lua -H "Authorization: Bearer $admin" \
            "http://127.0.0.1:$a" | grep '^created')
echo "create+del   $pairs"
# Concurrent writers through one server: 1, then 8 (each its own user and connection).
writers() {
    wrk -t"$1" -c"$1" -d "${duration}s" -s bench/http/create_delete.lua -H "Authorization: Bearer $admin" \
        "http://127.0.0.1:$a" | grep '^created' | sed -E 's/.*: ([0-9.]+) creations\/s.*/\1/'
}
one_writer=$(writers 1)
eight_writers=$(writers 8)
echo "writers      1: $one_writer creations/s, 8: $eight_writers creations/s"

python3 - "$a" "$b" "$admin" "$rounds" "${TOKENAUTH_BENCH_JSON:-}" "$duration" "$clients" \
    "$(sed -E 's/.*: ([0-9.]+) creations\/s.*/\1/' <<<"$pairs")" "$one_writer" "$eight_writers" <<'PY'
import http.client, json, sys, time
a, b, admin, rounds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
json_out, duration, clients, pairs = sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
one_writer, eight_writers = float(sys.argv[9]), float(sys.argv[10])
conns = {a: http.client.HTTPConnection("127.0.0.1", a), b: http.client.HTTPConnection("127.0.0.1", b)}
ca, cb = a, b
def call(port, method, path, bearer, body=None):
    for attempt in (0, 1):  # the server may have closed an idle keep-alive connection
        try:
            c = conns[port]
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Authorization": "Bearer " + bearer, "Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        except (http.client.HTTPException, OSError):
            conns[port].close()
            conns[port] = http.client.HTTPConnection("127.0.0.1", port)
            if attempt:
                raise
call(ca, "POST", "/v1/users/", admin, {"name": "rev", "primary_group": "0", "uid": "", "home_directory": None, "password": None})
latencies = []
for _ in range(rounds):
    status, body = call(ca, "POST", "/v1/auth/access-tokens/", admin, {"user": {"name": "rev"}})
    created = json.loads(body)
    while call(cb, "GET", "/v1/session/who-am-i", created["bearer_token"])[0] != 200:
        time.sleep(0.0002)
    start = time.perf_counter()
    call(ca, "PATCH", "/v1/auth/access-tokens/" + created["id"], admin, {"enabled": False})
    while call(cb, "GET", "/v1/session/who-am-i", created["bearer_token"])[0] != 401:
        time.sleep(0.0002)
    latencies.append((time.perf_counter() - start) * 1000)
    call(ca, "DELETE", "/v1/auth/access-tokens/" + created["id"], admin)
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"revocation   A disables, B refuses: p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {latencies[-1]:.1f} ms "
      f"over {len(latencies)} tokens (target p99 <= 1000 ms)")
if json_out:  # for bench/report.sh
    with open(json_out, "w") as f:
        json.dump({"duration_s": duration, "clients": clients, "create_delete_per_s": [pairs],
                   "writers_per_s": {"1": one_writer, "8": eight_writers},
                   "revocation_ms": {"p50": pick(0.5), "p99": pick(0.99), "max": latencies[-1],
                                     "tokens": len(latencies)}}, f)
PY
./build-bench/bench/tokenauth-replica-bench "$db" "$a" "$admin" "$rounds" ${TOKENAUTH_BENCH_JSON:+"$TOKENAUTH_BENCH_JSON"}
