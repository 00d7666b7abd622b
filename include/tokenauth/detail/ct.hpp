// tokenauth::detail: helpers for code that must not branch or index on secrets.
//
// value_barrier() hides a value from the optimiser, so a mask computed from a secret
// cannot be turned back into a branch. declassify() marks a value derived from a secret as
// public: only verdicts an attacker learns anyway (the checksum matched, the hashes
// matched, the token id). Built with TOKENAUTH_CT_VALGRIND (tests/ct), it tells Valgrind's
// memcheck that those bytes are defined; everything else derived from the secret bytes the
// test marks undefined stays undefined, and any branch or memory index on it is reported.
// In every other build it compiles to nothing.
#pragma once

#include "config.hpp"

#include <cstddef>
#include <cstdint>

#ifdef TOKENAUTH_CT_VALGRIND
#include <valgrind/memcheck.h>
#endif

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {

template <class T>
inline T value_barrier(T v) noexcept {
    __asm__("" : "+r"(v));
    return v;
}

inline void declassify([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n) noexcept {
#ifdef TOKENAUTH_CT_VALGRIND
    (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}

/// A public verdict from secret data: declassified, then usable in a branch.
inline bool declassify_verdict(bool v) noexcept {
    declassify(&v, sizeof v);
    return v;
}

}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth
