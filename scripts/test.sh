#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, configures, builds (-j2) and runs ctest.
# Usage: ./scripts/test.sh          (build dir: build/)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

jobs=${TOKENAUTH_JOBS:-2}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest -j"$jobs" --output-on-failure)
