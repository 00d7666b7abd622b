#!/usr/bin/env bash
# The request path of this build against the build at a git ref (a tag, say), interleaved:
# both servers run with --http on loopback; wrk drives GET /v1/session/who-am-i with an
# access token (validation, its counters and the request metrics) on one, then the other,
# REPS times each, alternating which goes first. Prints each side's median and interquartile
# range of requests/s; the difference of the medians should be within max(3%, 2x IQR).
# Usage: bench/http/compare.sh REF [REPS (default 10)] [SECONDS (default 3)]
# TOKENAUTH_BENCH_JSON=FILE also writes every run there (bench/report.sh reads it). The base
# build is kept in build-bench-base/<commit> for the next run.
set -euo pipefail
cd "$(dirname "$0")/../.."
ref=${1:?usage: bench/http/compare.sh REF [REPS] [SECONDS]}
reps=${2:-10}
seconds=${3:-3}
./scripts/deps.sh
commit=$(git rev-parse --verify "$ref^{commit}")
base=build-bench-base/$commit
if [[ ! -x $base/build/reference_server/tokenauth-server ]]; then
    rm -rf "$base"
    mkdir -p "$base/src"
    git archive "$commit" | tar -x -C "$base/src"
    cmake -S "$base/src" -B "$base/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_BUILD_TESTS=OFF \
        -DTOKENAUTH_BUILD_BENCHMARKS=OFF >/dev/null
    cmake --build "$base/build" -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-server >/dev/null
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-server >/dev/null

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
start() {  # name, binary: starts a server; sets url_<name> and token_<name>
    local log=$work/$1.log
    TOKENAUTH_ADMIN_PASSWORD=bench-admin "$2" --http --listen 127.0.0.1:0 --data-dir "$work/$1" \
        --threads "${TOKENAUTH_BENCH_THREADS:-16}" 2>"$log" &
    pids+=($!)
    (set +o pipefail; timeout 60 tail -n +1 -f "$log" | grep -m1 -q '"event":"listening"')
    local api="http://127.0.0.1:$(grep -m1 '"event":"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')"
    local field='s/.*"bearer_token":"([^"]+)".*/\1/'
    local admin
    admin=$(curl -sf "$api/v1/session/login" -d '{"username":"admin","password":"bench-admin"}' | sed -E "$field")
    curl -sf -H "Authorization: Bearer $admin" "$api/v1/users/" \
        -d '{"name":"svc","primary_group":"0","uid":"","home_directory":null,"password":null}' >/dev/null
    printf -v "url_$1" '%s' "$api"
    printf -v "token_$1" '%s' "$(curl -sf -H "Authorization: Bearer $admin" "$api/v1/auth/access-tokens/" \
        -d '{"user":{"name":"svc"}}' | sed -E "$field")"
}
start base "$base/build/reference_server/tokenauth-server"
start current ./build-bench/reference_server/tokenauth-server

run() {  # name: one wrk run of who-am-i; appends requests/s to $work/<name>.runs
    local url=url_$1 token=token_$1
    wrk -t1 -c8 -d "${seconds}s" -H "Authorization: Bearer ${!token}" "${!url}/v1/session/who-am-i" |
        awk '/Requests\/sec/ { print $2 }' >>"$work/$1.runs"
}
for ((r = 0; r < reps; r++)); do
    if ((r % 2 == 0)); then run base; run current; else run current; run base; fi
done
quartiles() {  # name: "median q1 q3" of the runs
    sort -n "$work/$1.runs" | awk '{ v[NR] = $1 }
        function at(p,   x, i) { x = 1 + (NR - 1) * p; i = int(x); return v[i] + (x - i) * (v[i + 1] - v[i]) }
        END { v[NR + 1] = v[NR]; printf "%.0f %.0f %.0f", at(0.5), at(0.25), at(0.75) }'
}
read -r bm bq1 bq3 <<<"$(quartiles base)"
read -r cm cq1 cq3 <<<"$(quartiles current)"
echo "who-am-i, $reps interleaved runs of ${seconds}s each:"
echo "  $ref ($commit): median $bm req/s, IQR $((bq3 - bq1))"
echo "  this build: median $cm req/s, IQR $((cq3 - cq1))"
awk -v b="$bm" -v c="$cm" -v i1="$((bq3 - bq1))" -v i2="$((cq3 - cq1))" 'BEGIN {
    d = c - b; if (d < 0) d = -d; iqr = i1 > i2 ? i1 : i2; bound = 0.03 * b > 2 * iqr ? 0.03 * b : 2 * iqr
    printf "  difference %.0f req/s (%.1f%%); bound max(3%%, 2x IQR) = %.0f: %s\n", c - b, 100 * (c - b) / b, bound,
        d <= bound ? "within" : "outside" }'
if [[ -n "${TOKENAUTH_BENCH_JSON:-}" ]]; then
    printf '{"ref": "%s", "commit": "%s", "seconds": %s, "base_rps": [%s], "current_rps": [%s]}\n' "$ref" "$commit" \
        "$seconds" "$(paste -sd, "$work/base.runs")" "$(paste -sd, "$work/current.runs")" >"$TOKENAUTH_BENCH_JSON"
fi
