#!/usr/bin/env bash
# The main job: installs missing Debian packages, builds, and runs the example that mints and
# validates a token (the reference server takes this place once it exists).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${TOKENAUTH_JOBS:-2}" --target tokenauth-example
exec ./build/tokenauth-example "$@"
