#!/usr/bin/env bash
# Scale benchmarks: the release server over HTTPS on loopback with a store of 1,000, 100,000
# and 1,000,000 access tokens (two per user, the users and tokens inserted with SQL into a
# store the server created, not through a million HTTP calls), then through the server:
#   start-up      launch to listening
#   RSS idle      the server's resident memory, per token, directory and index included
#   directory     create user (no password; with one, reported apart), delete user, create
#                 role, add a role member: the median of 9 of each
#   100 writes    RSS after 100 directory writes against RSS before them
#   list          one unpaged GET /v1/auth/access-tokens/: MB/s, RSS growth (peak, sampled
#                 while it is read) and RSS after
# then validation against an earlier build (bench/scale/validate_compare.sh).
# Usage: bench/scale/run.sh [SIZES (default "1000 100000 1000000")]
# TOKENAUTH_BENCH_JSON=FILE also writes the figures there (bench/report.sh reads it);
# TOKENAUTH_REPORT_BASE names the git ref of the comparison (default v0.1.0-pre-metrics).
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=${1:-1000 100000 1000000}
./scripts/deps.sh --test
cmake -S . -B build-bench-release -DCMAKE_BUILD_TYPE=Release -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench-release -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-server >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2086
python3 bench/scale/scale.py ./build-bench-release/reference_server/tokenauth-server "$work/scale.json" $sizes
TOKENAUTH_BENCH_JSON=$work/validate.json bench/scale/validate_compare.sh "${TOKENAUTH_REPORT_BASE:-v0.1.0-pre-metrics}" 10
if [[ -n ${TOKENAUTH_BENCH_JSON:-} ]]; then
    python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); s["validate"] = json.load(open(sys.argv[2])); json.dump(s, open(sys.argv[3], "w"))' \
        "$work/scale.json" "$work/validate.json" "$TOKENAUTH_BENCH_JSON"
fi
