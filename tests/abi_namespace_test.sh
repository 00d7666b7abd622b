#!/usr/bin/env bash
# The library's symbols live in tokenauth::v<version>_l<limits> (detail/config.hpp): two
# translation units built with different TOKENAUTH_MAX_* limits name different types, so
# linking them together fails instead of silently breaking the one-definition rule.
# Usage: abi_namespace_test.sh CXX INCLUDE_DIR GENERATED_INCLUDE_DIR VERSION (like 0.1.0)
set -euo pipefail
cxx=$1 include_dir=$2 generated_dir=$3 version=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c++17 -Wall -Wextra -Werror -I"$include_dir" -I"$generated_dir")
cat >"$tmp/lib.cpp" <<'CPP'
#include <tokenauth/token.hpp>
bool probe(const tokenauth::token_id& id) { return id.hash() != 0; }
CPP
cat >"$tmp/main.cpp" <<'CPP'
#include <tokenauth/token.hpp>
bool probe(const tokenauth::token_id& id);
int main() { return probe(tokenauth::token_id{}) ? 0 : 1; }
CPP
"$cxx" "${flags[@]}" -c "$tmp/lib.cpp" -o "$tmp/lib_default.o"
"$cxx" "${flags[@]}" -DTOKENAUTH_MAX_AUTHORIZATION_LENGTH=512 -c "$tmp/lib.cpp" -o "$tmp/lib_512.o"
"$cxx" "${flags[@]}" -c "$tmp/main.cpp" -o "$tmp/main_default.o"
ns="v${version//./_}"
nm -C "$tmp/lib_default.o" | grep -q "probe(tokenauth::${ns}_l256_64_1024::token_id const&)" ||
    { echo "FAIL: the default build's symbol is not in tokenauth::${ns}_l256_64_1024"; nm -C "$tmp/lib_default.o"; exit 1; }
nm -C "$tmp/lib_512.o" | grep -q "probe(tokenauth::${ns}_l512_64_1024::token_id const&)" ||
    { echo "FAIL: an overridden limit does not change the namespace"; nm -C "$tmp/lib_512.o"; exit 1; }
"$cxx" "$tmp/main_default.o" "$tmp/lib_default.o" -o "$tmp/same" || { echo "FAIL: the same limits do not link"; exit 1; }
if "$cxx" "$tmp/main_default.o" "$tmp/lib_512.o" -o "$tmp/mixed" 2>"$tmp/link.txt"; then
    echo "FAIL: translation units with different limits linked together"
    exit 1
fi
grep -q "undefined reference" "$tmp/link.txt"
echo "ok: tokenauth::${ns}_l256_64_1024; other limits, another namespace; mixing them does not link"
