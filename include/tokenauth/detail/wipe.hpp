// tokenauth: wiping secrets from memory. The one wipe function of the library and the server.
#pragma once

#include "config.hpp"

#include <cstddef>

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// Overwrites n bytes with zeros in a way the compiler may not remove (the empty asm with a
/// memory clobber says the zeros are observed). Inline, so wiping a few dozen bytes on the
/// hot path costs a few stores, not a library call.
inline void wipe(void* p, std::size_t n) noexcept {
    __builtin_memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

TOKENAUTH_ABI_END
}  // namespace tokenauth
