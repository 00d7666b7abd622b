#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS, merging
# new coverage into fuzz/corpus/<target>/. Prints per target: executions, exec/s, coverage
# (edges), new corpus files, crashes. Exits non-zero on any finding (crash inputs are kept
# in build-fuzz/artifacts/<target>/).
# Usage: fuzz/run.sh SECONDS [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(access_token session validator base64 time identity privilege sha256 request_body framing name)

build=build-fuzz
if [[ -z "${TOKENAUTH_FUZZ_NO_BUILD:-}" ]]; then  # set it to run fuzzers built earlier
CC=clang CXX=clang++ cmake -S . -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_BUILD_FUZZERS=ON \
    -DTOKENAUTH_BUILD_TESTS=OFF -DTOKENAUTH_BUILD_BENCHMARKS=OFF -DTOKENAUTH_INSTALL=OFF \
    "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" >/dev/null
cmake --build $build -j"${TOKENAUTH_JOBS:-2}" --target "${targets[@]/%/_fuzzer}" >/dev/null
fi

failed=0
ok=0
printf '%-14s %12s %10s %8s %6s %8s\n' target executions exec/s cov new crashes
for t in "${targets[@]}"; do
    corpus=fuzz/corpus/$t
    fresh=$build/new-corpus/$t
    artifacts=$build/artifacts/$t
    rm -rf "$fresh"
    mkdir -p "$fresh" "$artifacts"
    log=$build/$t.log
    status=0
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        $build/fuzz/${t}_fuzzer -max_total_time="$seconds" -dict=fuzz/$t.dict -max_len=4096 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "$fresh" "$corpus" >"$log" 2>&1 || status=$?
    before=$(ls "$corpus" | wc -l)
    $build/fuzz/${t}_fuzzer -merge=1 "$corpus" "$fresh" >>"$build/$t.merge.log" 2>&1 || true
    added=$(( $(ls "$corpus" | wc -l) - before ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
    crashes=$(find "$artifacts" -type f | wc -l)
    if [[ $status -ne 0 || $crashes -ne 0 ]]; then
        failed=$((failed + 1))
        crashes=$((crashes > 0 ? crashes : 1))
        echo "---- $t failed (exit $status); last lines of $log:" >&2
        tail -30 "$log" >&2
    else
        ok=$((ok + 1))
    fi
    printf '%-14s %12s %10s %8s %6s %8s\n' "$t" "${execs:-0}" "${rate:-0}" "${cov:-0}" "$added" "$crashes"
done
echo "fuzz: $ok passed, $failed failed"
exit $((failed > 0 ? 1 : 0))
