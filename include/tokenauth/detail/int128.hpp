// tokenauth::detail: 128-bit integers (a GCC/Clang extension, marked so -Wpedantic stays quiet).
#pragma once

#include "config.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;
}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth
