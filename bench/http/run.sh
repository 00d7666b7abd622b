#!/usr/bin/env bash
# Server benchmarks: builds Release, starts tokenauth-server with --http on loopback and a
# temporary data dir, creates a token, and drives the server with wrk (keep-alive; each run
# bounded to DURATION seconds). Prints requests/s and p50/p99 latency for:
#   version      GET /v1/version (no authentication): the HTTP stack's own ceiling
#   whoami       GET /v1/session/who-am-i with an access token
#   bad_secret   the same with a wrong secret (the 401 path)
#   create+del   token create + delete pairs (each a durable SQLite commit)
# and the ratio whoami/version. Usage: bench/http/run.sh [DURATION_SECONDS] (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
./scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-server tokenauth-wrong-secret >/dev/null

work=$(mktemp -d)
log=$work/server.log
TOKENAUTH_ADMIN_PASSWORD=bench-admin ./build-release/reference_server/tokenauth-server \
    --http --listen 127.0.0.1:0 --data-dir "$work/data" --threads "${TOKENAUTH_BENCH_THREADS:-4}" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
# Wait for the "listening" line (no fixed sleep): tail follows the log until it appears.
timeout 60 tail -n +1 -f "$log" | grep -m1 -q '"event":"listening"'
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
bad=$(./build-release/bench/tokenauth-wrong-secret "$token")

run() {  # name, wrk args...
    local name=$1
    shift
    local out
    out=$(wrk --latency -d "${duration}s" "$@")
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-12s %12s req/s   p50 %8s   p99 %8s\n' "$name" "$rps" "$p50" "$p99"
    echo "$rps" >"$work/$name.rps"
    [[ -n "${VERBOSE:-}" ]] && echo "$out"
    return 0
}

echo "server: tokenauth-server --http, ${TOKENAUTH_BENCH_THREADS:-4} threads; wrk 1 thread x 8 connections, ${duration}s each"
run version -t1 -c8 "$api/v1/version"
run whoami -t1 -c8 -H "Authorization: Bearer $token" "$api/v1/session/who-am-i"
run bad_secret -t1 -c8 -H "Authorization: Bearer $bad" "$api/v1/session/who-am-i"
pairs=$(wrk -t2 -c2 -d "${duration}s" -s bench/http/create_delete.lua -H "Authorization: Bearer $admin" "$api" | grep '^created')
echo "create+del   $pairs"
awk -v a="$(cat "$work/whoami.rps")" -v b="$(cat "$work/version.rps")" \
    'BEGIN { printf "ratio whoami/version = %.2f (target >= 0.90)\n", a / b }'
