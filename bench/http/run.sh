#!/usr/bin/env bash
# Server benchmarks: builds RelWithDebInfo (-O2), starts tokenauth-server with --http on loopback and a
# temporary data dir, creates a token, and drives the server with wrk (keep-alive; each run
# bounded to DURATION seconds). Prints requests/s and p50/p99 latency for:
#   version      GET /v1/version (no authentication): the HTTP stack's own ceiling
#   whoami       GET /v1/session/who-am-i with an access token
#   verify       GET /v1/auth/verify with an access token (what nginx auth_request asks)
#   bad_secret   the same with a wrong secret (the 401 path)
#   create+del   token create + delete pairs (each a durable SQLite commit)
#   scrape       GET /metrics on a second server holding 1,000,000 tokens (and its start-up time)
# and the ratios whoami/version and verify/version. version, whoami and verify run interleaved,
# ROUNDS times each; the
# medians are reported (this machine is shared and noisy).
# Usage: bench/http/run.sh [DURATION_SECONDS (default 5)] [ROUNDS (default 3)]
# TOKENAUTH_BENCH_SERVER=PATH measures another server binary (an older build, say) instead.
# TOKENAUTH_BENCH_JSON=FILE also writes every run's figures there (bench/report.sh reads it).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5}
rounds=${2:-3}
./scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-server tokenauth-wrong-secret >/dev/null

server_bin=${TOKENAUTH_BENCH_SERVER:-./build-bench/reference_server/tokenauth-server}
# The bad_secret run fails on purpose: turn the per-address throttle off where there is one.
no_throttle=()
"$server_bin" --help | grep -q -- --auth-failures-per-minute && no_throttle=(--auth-failures-per-minute 0)
work=$(mktemp -d)
log=$work/server.log
TOKENAUTH_ADMIN_PASSWORD=bench-admin "$server_bin" \
    --http --listen 127.0.0.1:0 --data-dir "$work/data" --threads "${TOKENAUTH_BENCH_THREADS:-16}" \
    "${no_throttle[@]}" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
# Wait for the "listening" line (no fixed sleep): tail follows the log until it appears.
(set +o pipefail; timeout 60 tail -n +1 -f "$log" | grep -m1 -q '"event":"listening"')
grep -q '"event":"listening"' "$log" || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
port=$(grep -m1 '"event":"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')
api=http://127.0.0.1:$port

json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }
admin=$(curl -sf "$api/v1/session/login" -d '{"username":"admin","password":"bench-admin"}' | json_field bearer_token)
auth=(-H "Authorization: Bearer $admin")
for u in svc bench-0 bench-1; do
    curl -sf "${auth[@]}" "$api/v1/users/" -d "{\"name\":\"$u\",\"primary_group\":\"0\",\"uid\":\"\",\"home_directory\":null,\"password\":null}" >/dev/null
done
token=$(curl -sf "${auth[@]}" "$api/v1/auth/access-tokens/" -d '{"user":{"name":"svc"}}' | json_field bearer_token)
# The same id with a wrong secret and a valid checksum: reaches the store, fails the hash.
bad=$(./build-bench/bench/tokenauth-wrong-secret "$token")

run() {  # name, wrk args...: one wrk run; appends "rps p50 p99" to $work/$name
    local name=$1
    shift
    local out
    out=$(wrk --latency -d "${duration}s" "$@")
    [[ -n "${VERBOSE:-}" ]] && echo "$out" >&2
    echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "50%" {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out")" >>"$work/$name.runs"
}
median() {  # name: the run with the median requests/s, as "rps p50 p99"
    sort -n "$work/$1.runs" | awk '{ line[NR] = $0 } END { print line[int((NR + 1) / 2)] }'
}
report() {
    read -r rps p50 p99 <<<"$(median "$1")"
    printf '%-12s %12s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
}

echo "server: $server_bin --http, ${TOKENAUTH_BENCH_THREADS:-16} threads; wrk 1 thread x 8 connections, ${duration}s a run"
for ((r = 0; r < rounds; r++)); do
    run version -t1 -c8 "$api/v1/version"
    run whoami -t1 -c8 -H "Authorization: Bearer $token" "$api/v1/session/who-am-i"
    run verify -t1 -c8 -H "Authorization: Bearer $token" "$api/v1/auth/verify"
done
run bad_secret -t1 -c8 -H "Authorization: Bearer $bad" "$api/v1/session/who-am-i"
report version
report whoami
report verify
report bad_secret
pairs=$(wrk -t2 -c2 -d "${duration}s" -s bench/http/create_delete.lua -H "Authorization: Bearer $admin" "$api" | grep '^created')
echo "create+del   $pairs"

# GET /metrics on a server holding 1,000,000 tokens (inserted with SQL into a fresh store, a
# quarter without expiry, the rest expiring over the next 58 days): start-up time, and each
# scrape's time through curl (a new connection each).
big=$work/big
TOKENAUTH_ADMIN_PASSWORD=bench-admin "$server_bin" --http --listen 127.0.0.1:0 --data-dir "$big" 2>"$work/big-init.log" &
init=$!
(set +o pipefail; timeout 60 tail -n +1 -f "$work/big-init.log" | grep -m1 -q '"event":"listening"')
kill $init
wait $init || true
now_ns=$(date +%s%N)
sqlite3 "$big/tokenauth.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, enabled, hash_scheme)
SELECT randomblob(16), randomblob(32), 500, 500, $now_ns,
       CASE WHEN i % 4 = 0 THEN NULL ELSE $now_ns + (i % 5000) * 1000000000000 END, i % 10 != 0, 2 FROM n;
SQL
started=$(date +%s%N)
TOKENAUTH_ADMIN_PASSWORD=bench-admin "$server_bin" --http --listen 127.0.0.1:0 --data-dir "$big" \
    --metrics-listen 127.0.0.1:0 2>"$work/big.log" &
big_server=$!
trap 'kill $server $big_server 2>/dev/null; wait $server $big_server 2>/dev/null; rm -rf "$work"' EXIT
(set +o pipefail; timeout 300 tail -n +1 -f "$work/big.log" | grep -m1 -q '"event":"listening"')
startup_s=$(awk -v a="$started" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
mport=$(grep -m1 '"event":"listening"' "$work/big.log" | sed -E 's/.*"metrics_port":([0-9]+).*/\1/')
counted=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '/^tokenauth_tokens\{/ { n += $2 } END { print n }')
for ((i = 0; i < 30; i++)); do
    curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$mport/metrics" >>"$work/scrape.runs"
done
scrape_ms=$(awk '{ printf "%s%.3f", (NR > 1 ? "," : ""), $1 * 1000 }' "$work/scrape.runs")
echo "scrape at $counted tokens: start-up ${startup_s}s; /metrics ms: $scrape_ms"
kill $big_server
wait $big_server 2>/dev/null || true

if [[ -n "${TOKENAUTH_BENCH_JSON:-}" ]]; then  # every run, for bench/report.sh (latencies in us)
    series() {  # name, column: the column of each run as a JSON array
        awk -v c="$2" 'function us(x) { return x ~ /us$/ ? x + 0 : x ~ /ms$/ ? (x + 0) * 1000 : (x + 0) * 1000000 }
                       { v = c == 1 ? $1 + 0 : us($c); printf "%s%s", (NR > 1 ? "," : ""), v }' "$work/$1.runs"
    }
    {
        printf '{"duration_s": %s, "rounds": %s' "$duration" "$rounds"
        for name in version whoami verify bad_secret; do
            printf ', "%s": {"rps": [%s], "p50_us": [%s], "p99_us": [%s]}' "$name" "$(series $name 1)" "$(series $name 2)" \
                "$(series $name 3)"
        done
        printf ', "create_delete_per_s": [%s]' "$(sed -E 's/.*: ([0-9.]+) creations\/s.*/\1/' <<<"$pairs")"
        printf ', "scrape": {"tokens": %s, "startup_s": %s, "ms": [%s]}}\n' "$counted" "$startup_s" "$scrape_ms"
    } >"$TOKENAUTH_BENCH_JSON"
fi
for name in whoami verify; do
    awk -v n="$name" -v a="$(median $name | cut -d' ' -f1)" -v b="$(median version | cut -d' ' -f1)" \
        'BEGIN { printf "ratio %s/version = %.2f (target >= 0.95), medians of %d runs each\n", n, a / b, '"$rounds"' }'
done
