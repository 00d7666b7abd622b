#!/usr/bin/env bash
# Installs the Debian packages tokenauth needs, only those missing (with --test, also those
# of the browser tests). Idempotent; prints nothing when everything is already there.
set -euo pipefail

packages=(
    g++ cmake make pkg-config git
    libsodium-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev libsqlite3-dev libpq-dev libcli11-dev libicu-dev
    libsystemd-dev
    catch2 libbenchmark-dev
    clang libclang-rt-14-dev
    openssl curl wrk valgrind sqlite3
)
# --test: also what the browser, PostgreSQL, nginx, Beast and aarch64 tests need: Chromium, PostgreSQL 15,
# nginx-light, libboost-dev (Boost.Beast, for the adapter test), systemd (systemd-analyze for the unit),
# prometheus (a real scrape, and promtool), dpkg-dev and help2man (the Debian packages and their man pages),
# an aarch64 cross compiler and qemu-user, and Node.js with npm for the browser driver
# (playwright-core); a machine that has node and npm already keeps its own.
if [[ "${1:-}" == "--test" ]]; then
    packages+=(chromium postgresql-15 nginx-light libboost-dev systemd prometheus dpkg-dev help2man g++-aarch64-linux-gnu
              qemu-user)
    command -v node >/dev/null 2>&1 || packages+=(nodejs)
    command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
