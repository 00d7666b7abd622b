#!/usr/bin/env bash
# Validation against the build at a git ref: BM_Validate_Hit/1000000 (a million-token
# memory_token_store) of this build and of the ref's, both Release, run one after the other,
# REPS times each, alternating which goes first. Prints each side's median and interquartile
# range; the medians should be within max(5%, 2x IQR).
# Usage: bench/scale/validate_compare.sh REF [REPS (default 10)]
# TOKENAUTH_BENCH_JSON=FILE also writes every run there (bench/report.sh reads it). The
# ref's build is kept in build-bench-base/<commit>-lib for the next run.
set -euo pipefail
cd "$(dirname "$0")/../.."
ref=${1:?usage: bench/scale/validate_compare.sh REF [REPS]}
reps=${2:-10}
commit=$(git rev-parse --verify "$ref^{commit}")
base=build-bench-base/$commit-lib
if [[ ! -x $base/build/bench/tokenauth-bench ]]; then
    rm -rf "$base"
    mkdir -p "$base/src"
    git archive "$commit" | tar -x -C "$base/src"
    cmake -S "$base/src" -B "$base/build" -DCMAKE_BUILD_TYPE=Release -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
    cmake --build "$base/build" -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-bench >/dev/null
fi
cmake -S . -B build-bench-release -DCMAKE_BUILD_TYPE=Release -DTOKENAUTH_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench-release -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-bench >/dev/null

run() {  # binary: one run's real time in ns
    "$1" --benchmark_filter='^BM_Validate_Hit/1000000$' --benchmark_format=json 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["benchmarks"][0]["real_time"])'
}
base_ns=() current_ns=()
for ((i = 0; i < reps; i++)); do
    if ((i % 2 == 0)); then
        base_ns+=("$(run "$base/build/bench/tokenauth-bench")")
        current_ns+=("$(run build-bench-release/bench/tokenauth-bench)")
    else
        current_ns+=("$(run build-bench-release/bench/tokenauth-bench)")
        base_ns+=("$(run "$base/build/bench/tokenauth-bench")")
    fi
done
python3 - "$ref" "$commit" "${TOKENAUTH_BENCH_JSON:-}" "${base_ns[*]}" "${current_ns[*]}" <<'PY'
import json, statistics, sys
ref, commit, out = sys.argv[1], sys.argv[2], sys.argv[3]
base = [float(x) for x in sys.argv[4].split()]
current = [float(x) for x in sys.argv[5].split()]
def quartiles(v):
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], statistics.median(v), q[2]
b, c = quartiles(base), quartiles(current)
bound = max(0.05 * b[1], 2 * max(b[2] - b[0], c[2] - c[0]))
print(f"BM_Validate_Hit/1000000: this build {c[1]:.1f} ns (IQR {c[2] - c[0]:.1f}), {ref} {b[1]:.1f} ns "
      f"(IQR {b[2] - b[0]:.1f}); difference {c[1] - b[1]:+.1f} ns, within {bound:.1f}: "
      f"{'yes' if abs(c[1] - b[1]) <= bound else 'no'}")
if out:
    with open(out, "w") as f:
        json.dump({"ref": ref, "commit": commit, "base_ns": base, "current_ns": current}, f)
PY
