#!/usr/bin/env bash
# Server benchmarks: builds RelWithDebInfo (-O2), starts tokenauth-server on loopback with a
# temporary data dir, creates a token, and drives the server with wrk (keep-alive; each run
# bounded to DURATION seconds). Prints requests/s and p50/p99 latency for:
#   version      GET /v1/version (no authentication): the HTTP stack's own ceiling
#   whoami       GET /v1/session/who-am-i with an access token
#   verify       GET /v1/auth/verify with an access token (what nginx auth_request asks)
#   bad_secret   the same with a wrong secret (the 401 path)
#   create+del   token create + delete pairs (each a durable SQLite commit)
#   tls_*        version and verify again over HTTPS (a second server, TLS 1.3)
#   nginx_*      nginx (docs/edge.md's configuration, from tests/server/nginx.conf.in) in front
#                of a small upstream: a location without auth_request and one with it
#   scrape       GET /metrics on a server holding 1,000,000 tokens (and its start-up time)
# and the ratios whoami/version and verify/version. The runs compared with each other are
# interleaved, ROUNDS times each, and the medians reported (this machine is shared and noisy).
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
work=$(mktemp -d)
chmod 755 "$work"  # nginx's workers read their configuration here
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

start() {  # name, flags...: starts a server with its own data dir; sets port_<name>
    local name=$1 log=$work/$1.log
    shift
    TOKENAUTH_ADMIN_PASSWORD=bench-admin "$server_bin" --listen 127.0.0.1:0 --data-dir "$work/$name" "$@" 2>"$log" &
    pids+=($!)
    # Wait for the "listening" line (no fixed sleep): tail follows the log until it appears.
    (set +o pipefail; timeout 300 tail -n +1 -f "$log" | grep -m1 -q '"event":"listening"')
    grep -q '"event":"listening"' "$log" || { echo "server $name did not start:" >&2; cat "$log" >&2; exit 1; }
    printf -v "port_$name" '%s' "$(grep -m1 '"event":"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')"
}
json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }
service_token() {  # API, user: logs in as admin, creates the user and a token for it; prints the token
    local admin
    admin=$(curl -sfk "$1/v1/session/login" -d '{"username":"admin","password":"bench-admin"}' | json_field bearer_token)
    curl -sfk -H "Authorization: Bearer $admin" "$1/v1/users/" \
        -d "{\"name\":\"$2\",\"primary_group\":\"0\",\"uid\":\"\",\"home_directory\":null,\"password\":null}" >/dev/null
    curl -sfk -H "Authorization: Bearer $admin" "$1/v1/auth/access-tokens/" -d "{\"user\":{\"name\":\"$2\"}}" |
        json_field bearer_token
}

# The bad_secret run fails on purpose: turn the per-address throttle off where there is one.
no_throttle=()
"$server_bin" --help | grep -q -- --auth-failures-per-minute && no_throttle=(--auth-failures-per-minute 0)
start main --http --threads "${TOKENAUTH_BENCH_THREADS:-16}" "${no_throttle[@]}"
api=http://127.0.0.1:$port_main
admin=$(curl -sf "$api/v1/session/login" -d '{"username":"admin","password":"bench-admin"}' | json_field bearer_token)
auth=(-H "Authorization: Bearer $admin")
for u in bench-0 bench-1; do
    curl -sf "${auth[@]}" "$api/v1/users/" -d "{\"name\":\"$u\",\"primary_group\":\"0\",\"uid\":\"\",\"home_directory\":null,\"password\":null}" >/dev/null
done
token=$(service_token "$api" svc)
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
    printf '%-14s %12s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
}
interleave() {  # "name url [bearer]"...: ROUNDS rounds of one wrk run of each, in turn
    local r spec name url bearer
    for ((r = 0; r < rounds; r++)); do
        for spec in "$@"; do
            read -r name url bearer <<<"$spec"
            run "$name" -t1 -c8 ${bearer:+-H "Authorization: Bearer $bearer"} "$url"
        done
    done
}
ratio() {  # a, b: the ratio of their median requests/s
    awk -v n="$1/$2" -v a="$(median "$1" | cut -d' ' -f1)" -v b="$(median "$2" | cut -d' ' -f1)" \
        'BEGIN { printf "ratio %s = %.2f, medians of '"$rounds"' runs each\n", n, a / b }'
}

echo "server: $server_bin --http, ${TOKENAUTH_BENCH_THREADS:-16} threads; wrk 1 thread x 8 connections, ${duration}s a run"
interleave "version $api/v1/version" "whoami $api/v1/session/who-am-i $token" "verify $api/v1/auth/verify $token"
run bad_secret -t1 -c8 -H "Authorization: Bearer $bad" "$api/v1/session/who-am-i"
report version
report whoami
report verify
report bad_secret
pairs=$(wrk -t2 -c2 -d "${duration}s" -s bench/http/create_delete.lua -H "Authorization: Bearer $admin" "$api" | grep '^created')
echo "create+del   $pairs"
ratio whoami version
ratio verify version

# HTTPS: the same two requests on a TLS server (keep-alive: one handshake per connection).
start tls --threads "${TOKENAUTH_BENCH_THREADS:-16}" --trusted-proxy 127.0.0.1
tls_api=https://127.0.0.1:$port_tls
tls_token=$(service_token "$tls_api" svc)
interleave "tls_version $tls_api/v1/version" "tls_verify $tls_api/v1/auth/verify $tls_token"
report tls_version
report tls_verify
ratio tls_verify tls_version

# nginx with docs/edge.md's configuration in front of the HTTPS server, plus an upstream that
# answers 200 and a location that proxies to it without asking tokenauth.
nginx_runs=()
if [[ -x /usr/sbin/nginx ]]; then
    nginx_dir=$work/nginx
    mkdir -p "$nginx_dir"
    free_port() {  # a port nothing listens on (bash's /dev/tcp: a refused connect)
        local p
        while p=$((20000 + RANDOM % 40000)); (: </dev/tcp/127.0.0.1/$p) 2>/dev/null; do :; done
        echo "$p"
    }
    nginx_port=$(free_port)
    upstream_port=$(free_port)
    sed -e "s|@DIR@|$nginx_dir|g" -e "s|@PORT@|$nginx_port|g" -e "s|@TOKENAUTH_PORT@|$port_tls|g" \
        -e "s|@UPSTREAM_PORT@|$upstream_port|g" \
        -e "s|        location = /health { return 204; }|        location = /health { return 204; }\n        location /plain/ { proxy_set_header Authorization \"\"; proxy_pass http://app; }|" \
        tests/server/nginx.conf.in >"$nginx_dir/nginx.conf"
    sed -i '$ d' "$nginx_dir/nginx.conf"  # the http block's closing brace: one more server first
    printf '    server {\n        listen 127.0.0.1:%s;\n        location / { return 200 "upstream\\n"; }\n    }\n}\n' \
        "$upstream_port" >>"$nginx_dir/nginx.conf"
    as=()
    if [[ $(id -u) -eq 0 ]]; then  # unprivileged, as in the test
        chown -R nobody "$nginx_dir"
        as=(runuser -u nobody --)
    fi
    "${as[@]}" /usr/sbin/nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log"
    for ((i = 0; i < 100; i++)); do curl -sf "http://127.0.0.1:$nginx_port/health" >/dev/null && break; sleep 0.05; done
    trap 'kill "$(cat "$nginx_dir/nginx.pid" 2>/dev/null)" "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tls_token" "http://127.0.0.1:$nginx_port/app/x") == 200 ]] ||
        { echo "nginx does not pass a valid token:" >&2; cat "$nginx_dir/error.log" >&2; exit 1; }
    interleave "nginx_plain http://127.0.0.1:$nginx_port/plain/x" "nginx_guarded http://127.0.0.1:$nginx_port/app/x $tls_token"
    report nginx_plain
    report nginx_guarded
    ratio nginx_guarded nginx_plain
    nginx_runs=(nginx_plain nginx_guarded)
else
    echo "nginx: /usr/sbin/nginx missing (./scripts/deps.sh --test installs nginx-light); not measured"
fi

# GET /metrics on a server holding 1,000,000 tokens (inserted with SQL into a fresh store, a
# quarter without expiry, the rest expiring over the next 58 days): start-up time, and each
# scrape's time through curl (a new connection each).
start big_init --http
kill "${pids[-1]}"
wait "${pids[-1]}" || true
now_ns=$(date +%s%N)
sqlite3 "$work/big_init/tokenauth.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, enabled, hash_scheme)
SELECT randomblob(16), randomblob(32), 500, 500, $now_ns,
       CASE WHEN i % 4 = 0 THEN NULL ELSE $now_ns + (i % 5000) * 1000000000000 END, i % 10 != 0, 2 FROM n;
SQL
mv "$work/big_init" "$work/big"
started=$(date +%s%N)
start big --http --metrics-listen 127.0.0.1:0
startup_s=$(awk -v a="$started" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
mport=$(grep -m1 '"event":"listening"' "$work/big.log" | sed -E 's/.*"metrics_port":([0-9]+).*/\1/')
counted=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '/^tokenauth_tokens\{/ { n += $2 } END { print n }')
for ((i = 0; i < 30; i++)); do
    curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$mport/metrics" >>"$work/scrape.runs"
done
scrape_ms=$(awk '{ printf "%s%.3f", (NR > 1 ? "," : ""), $1 * 1000 }' "$work/scrape.runs")
echo "scrape at $counted tokens: start-up ${startup_s}s; /metrics ms: $scrape_ms"

if [[ -n "${TOKENAUTH_BENCH_JSON:-}" ]]; then  # every run, for bench/report.sh (latencies in us)
    series() {  # name, column: the column of each run as a JSON array
        awk -v c="$2" 'function us(x) { return x ~ /us$/ ? x + 0 : x ~ /ms$/ ? (x + 0) * 1000 : (x + 0) * 1000000 }
                       { v = c == 1 ? $1 + 0 : us($c); printf "%s%s", (NR > 1 ? "," : ""), v }' "$work/$1.runs"
    }
    {
        printf '{"duration_s": %s, "rounds": %s' "$duration" "$rounds"
        for name in version whoami verify bad_secret tls_version tls_verify "${nginx_runs[@]}"; do
            printf ', "%s": {"rps": [%s], "p50_us": [%s], "p99_us": [%s]}' "$name" "$(series $name 1)" "$(series $name 2)" \
                "$(series $name 3)"
        done
        printf ', "create_delete_per_s": [%s]' "$(sed -E 's/.*: ([0-9.]+) creations\/s.*/\1/' <<<"$pairs")"
        printf ', "scrape": {"tokens": %s, "startup_s": %s, "ms": [%s]}}\n' "$counted" "$startup_s" "$scrape_ms"
    } >"$TOKENAUTH_BENCH_JSON"
fi
