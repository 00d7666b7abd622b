#!/usr/bin/env bash
# Library benchmarks: builds RelWithDebInfo (-O2; -O3 measured slower on the hot path here), runs tokenauth-bench (3 repetitions, medians) and
# prints each target as a ratio against its floor from the same run.
# Usage: bench/run.sh [extra tokenauth-bench flags]   (e.g. --benchmark_min_time=0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-bench tokenauth-bench-ratios >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
./build-bench/bench/tokenauth-bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out" --benchmark_out_format=json "$@"
echo
./build-bench/bench/tokenauth-bench-ratios "$out"
