#!/usr/bin/env bash
# The main job: installs missing Debian packages, builds, and runs the reference server
# (HTTPS on 127.0.0.1:8000, SQLite in ./data). Flags are passed on: ./scripts/run.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENAUTH_BROWSER_TESTS=OFF >/dev/null
cmake --build build -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-server tokenauth-cli
exec ./build/reference_server/tokenauth-server "$@"
