#!/usr/bin/env bash
# Each public header, and the umbrella alone, compiles by itself with -Wall -Wextra -Werror
# under g++ and clang++ (each compiler that is installed; at least one must be).
# -Wswitch-enum: a switch over one of the library's enums names every enumerator (no
# default: that would hide a new errc), so the compiler finds each switch a new value needs.
set -euo pipefail
include_dir=$1
generated_dir=$2  # tokenauth/version.hpp, which CMake generates
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
compilers=0
for cxx in g++ clang++; do
    command -v "$cxx" >/dev/null || { echo "skip: $cxx not installed"; continue; }
    compilers=$((compilers + 1))
    for h in "$include_dir"/tokenauth/*.hpp "$include_dir"/tokenauth/detail/*.hpp; do
        name=${h#"$include_dir"/}
        printf '#include <%s>\nint main() { return 0; }\n' "$name" > "$tmp/t.cpp"
        "$cxx" -std=c++17 -Wall -Wextra -Wswitch-enum -Werror -I"$include_dir" -I"$generated_dir" -c "$tmp/t.cpp" -o "$tmp/t.o"
        echo "ok: $cxx $name"
    done
done
[[ $compilers -gt 0 ]]
