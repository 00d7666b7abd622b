#!/usr/bin/env bash
# Writes docs/performance.md from one run: the library benchmarks (Release, -O3, the build
# users build; TOKENAUTH_REPORT_REPETITIONS repetitions, default 5), the HTTP benchmarks, the
# PostgreSQL benchmarks, the scale benchmarks (bench/scale/run.sh: 1,000 to 1,000,000 tokens,
# and validation against the build at the same earlier ref) and the comparison with an
# earlier build (bench/http/compare.sh), one after the other on this machine, then the tables from their
# JSON output (bench/report.cpp) under a header naming the machine, its load and the date,
# then the notes of bench/performance_notes.md. Nothing in the tables is typed by hand.
# Usage: bench/report.sh [OUTPUT (default docs/performance.md)]
# TOKENAUTH_REPORT_SECONDS sets each HTTP and PostgreSQL run's length (default 5);
# TOKENAUTH_REPORT_BASE the git ref bench/http/compare.sh measures against (default v0.1.0-pre-metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
output=${1:-docs/performance.md}
reps=${TOKENAUTH_REPORT_REPETITIONS:-5}
seconds=${TOKENAUTH_REPORT_SECONDS:-5}
base_ref=${TOKENAUTH_REPORT_BASE:-v0.1.0-pre-metrics}  # the build the request path is compared against
./scripts/deps.sh --test
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)

cmake -S . -B build-bench-release -DCMAKE_BUILD_TYPE=Release -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench-release -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-bench tokenauth-bench-report >/dev/null
echo "report: library benchmarks, $reps repetitions" >&2
./build-bench-release/bench/tokenauth-bench --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_out="$work/lib.json" --benchmark_out_format=json >/dev/null
echo "report: HTTP benchmarks" >&2
TOKENAUTH_BENCH_JSON=$work/http.json bench/http/run.sh "$seconds" 3 >&2
echo "report: PostgreSQL benchmarks" >&2
TOKENAUTH_BENCH_JSON=$work/pg.json bench/postgres/run.sh "$seconds" 100 >&2
echo "report: scale benchmarks" >&2
TOKENAUTH_BENCH_JSON=$work/scale.json TOKENAUTH_REPORT_BASE=$base_ref bench/scale/run.sh >&2
compare=()
if git rev-parse --verify -q "$base_ref^{commit}" >/dev/null; then
    echo "report: against $base_ref" >&2
    TOKENAUTH_BENCH_JSON=$work/compare.json bench/http/compare.sh "$base_ref" 10 3 >&2
    compare=(--compare "$work/compare.json")
else
    echo "report: $base_ref is not in this clone (git fetch --tags); no comparison" >&2
fi

cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')
flags=""
for f in sha_ni avx2 ssse3 aes; do grep -m1 '^flags' /proc/cpuinfo | grep -qw "$f" && flags+="${flags:+ }$f"; done
cat >"$work/machine.json" <<JSON
{"cpu": "$cpu", "cores": $(nproc), "flags": "${flags:-none of sha_ni, avx2, ssse3, aes}",
 "load_start": "$load_start", "load_end": "$(load)", "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
 "compiler": "$(c++ --version | head -1)"}
JSON

{
    echo "# Performance"
    echo
    echo "Written by \`bench/report.sh\` from one run of the library, HTTP and PostgreSQL benchmarks;"
    echo "run it again to regenerate this file. Each target is a ratio against a floor measured in the"
    echo "same run, and met or missed is computed. The spread shows how far one run can be trusted on a"
    echo "shared machine: a figure that moves by less than its spread between two runs has not changed."
    echo
    ./build-bench-release/bench/tokenauth-bench-report --markdown "$work/lib.json" --http "$work/http.json" \
        --pg "$work/pg.json" "${compare[@]}" --scale "$work/scale.json" --machine "$work/machine.json"
    echo
    cat bench/performance_notes.md
} >"$output"
echo "report: wrote $output" >&2
