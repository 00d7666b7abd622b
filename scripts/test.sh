#!/usr/bin/env bash
# Runs every test, as CI does:
#   1. installs missing Debian packages (scripts/deps.sh)
#   2. RelWithDebInfo build (-j2) + ctest: unit, server, CLI, README, consumer, corpus replays,
#      the web UI in Chromium (npm ci in tests/browser first), PostgreSQL (a throwaway
#      instance per test process), and the aarch64 SHA-256 path under qemu
#   3. ASan + UBSan build of the whole suite + ctest
#   4. each libFuzzer target for TOKENAUTH_FUZZ_SECONDS (default 27) with clang
# Any failure or sanitizer finding fails the run. The last line sums up: "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${TOKENAUTH_JOBS:-2}
fuzz_seconds=${TOKENAUTH_FUZZ_SECONDS:-27}  # 11 targets: under 5 minutes in all
passed=0
failed=0

# ctest_in DIR: runs ctest in DIR and adds its counts to the totals.
ctest_in() {
    local log
    log=$(mktemp)
    local status=0
    (cd "$1" && ctest -j"$jobs" --output-on-failure) 2>&1 | tee "$log" || status=$?
    local line skipped
    line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1 || true)
    # A plain ctest skips a test whose tool is missing; here every tool was installed, so a
    # skip is a failure.
    skipped=$(grep -cE '\(Skipped\)$' "$log" || true)
    rm -f "$log"
    if [[ -z "$line" ]]; then
        echo "test.sh: ctest in $1 printed no summary" >&2
        failed=$((failed + 1))
        return 1
    fi
    local f t
    f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    t=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + t - f - skipped))
    failed=$((failed + f + skipped))
    if [[ $skipped -gt 0 ]]; then
        echo "test.sh: $skipped test(s) in $1 were skipped: a tool they need is missing" >&2
        return 1
    fi
    return $status
}

# stage NAME: prints how long the stage before took, then NAME.
stage_started=$SECONDS
stage_name=""
stage() {
    [[ -z "$stage_name" ]] || echo "== $stage_name: $((SECONDS - stage_started)) s"
    stage_started=$SECONDS
    stage_name=$1
    [[ -z "$1" ]] || echo "== $1"
}

summary() { stage ""; echo "summary: $passed passed, $failed failed"; }
trap summary EXIT

stage "install what is missing (scripts/deps.sh --test)"
./scripts/deps.sh --test
stage "build and test (RelWithDebInfo; with the browser and PostgreSQL tests)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)  # playwright-core, pinned by package-lock.json
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_WERROR=ON -DTOKENAUTH_BROWSER_TESTS=ON \
    -DTOKENAUTH_POSTGRES_TESTS=ON -DTOKENAUTH_ARM64_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
ctest_in build

stage "build and test with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTOKENAUTH_BUILD_BENCHMARKS=OFF -DTOKENAUTH_WERROR=OFF \
    -DTOKENAUTH_BROWSER_TESTS=OFF -DTOKENAUTH_POSTGRES_TESTS=OFF -DTOKENAUTH_NGINX_TESTS=OFF \
    -DTOKENAUTH_SYSTEMD_TESTS=OFF -DTOKENAUTH_PROMETHEUS_TESTS=OFF -DTOKENAUTH_PACKAGE_TESTS=OFF \
    -DTOKENAUTH_CONNECTION_TESTS=OFF -DTOKENAUTH_SCALE_TESTS=OFF \
    "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1" >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest_in build-asan

stage "fuzz each target for ${fuzz_seconds}s (clang, libFuzzer + ASan + UBSan)"
fuzz_log=$(mktemp)
fuzz_status=0
fuzz/run.sh "$fuzz_seconds" 2>&1 | tee "$fuzz_log" || fuzz_status=$?
fuzz_line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed$' "$fuzz_log" || true)
rm -f "$fuzz_log"
if [[ -n "$fuzz_line" ]]; then
    passed=$((passed + $(sed -E 's/fuzz: ([0-9]+) passed.*/\1/' <<<"$fuzz_line")))
    failed=$((failed + $(sed -E 's/.* ([0-9]+) failed/\1/' <<<"$fuzz_line")))
fi
[[ $fuzz_status -eq 0 && -n "$fuzz_line" ]] || failed=$((failed + 1))
exit $((failed > 0 ? 1 : 0))
