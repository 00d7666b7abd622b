#!/usr/bin/env bash
# Library benchmarks: builds Release (-O3, the build users build), runs tokenauth-bench (3 repetitions, medians) and
# prints each target as a ratio against its floor from the same run.
# Usage: bench/run.sh [extra tokenauth-bench flags]   (e.g. --benchmark_min_time=0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build-bench-release -DCMAKE_BUILD_TYPE=Release -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench-release -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-bench tokenauth-bench-report >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
./build-bench-release/bench/tokenauth-bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out" --benchmark_out_format=json "$@"
echo
./build-bench-release/bench/tokenauth-bench-report "$out"
