// tokenauth: secrets at rest and constant-time comparison.
//
// A token secret is never stored. What is stored is a hash of the secret bound to the token
// id behind a domain-separation prefix, so a hash from one context can never be replayed in
// another. The current scheme (hash_scheme::sha256_v2) is SHA-256("ta/acc2" || id || secret):
// 55 bytes, one compression, on the CPU's SHA instructions where it has them (see
// detail/sha256.hpp). Records written before it carry hash_scheme::blake2b_v1,
// BLAKE2b-256(personal "tokenauth/accv1", id || secret), and still verify; a store rewrites
// them to the current scheme once their token has been presented. Verification recomputes
// the hash and compares it with crypto_verify_32. Nothing in this header formats, prints or
// logs a secret.
#pragma once

#include "detail/config.hpp"

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "detail/ct.hpp"
#include "detail/sha256.hpp"
#include "detail/wipe.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// Size of a token secret and of its stored hash, in bytes.
inline constexpr std::size_t secret_size = 32;
inline constexpr std::size_t secret_hash_size = 32;

/// A stored secret hash. Compare only with verify_secret / constant_time_equal.
struct secret_hash {
    std::uint8_t bytes[secret_hash_size] = {};
};

/// Initialises libsodium exactly once, thread-safe (a function-local static). Throws
/// std::runtime_error if libsodium cannot initialise (no usable randomness source).
inline void ensure_sodium_init() {
    static const int rc = sodium_init();  // C++11 guarantees one thread runs this
    if (rc < 0) throw std::runtime_error("tokenauth: sodium_init failed");
}

/// Fills buf with n bytes from libsodium's CSPRNG. Throws only if sodium cannot initialise.
inline void random_bytes(void* buf, std::size_t n) {
    ensure_sodium_init();
    randombytes_buf(buf, n);
}

/// True when the two 32-byte buffers are equal.
// must stay constant time: the only place secrets and secret hashes are compared.
[[nodiscard]] inline bool constant_time_equal(const std::uint8_t (&a)[32], const std::uint8_t (&b)[32]) noexcept {
    // Every byte is read, the differences are ORed together without a branch, and only the
    // verdict is public (checked under Valgrind: tests/ct). Inline: on the hot path a call
    // into libsodium's crypto_verify_32 cost more than the comparison.
    std::uint64_t diff = 0;
    for (std::size_t i = 0; i < 32; i += 8) {
        std::uint64_t x, y;
        __builtin_memcpy(&x, a + i, 8);
        __builtin_memcpy(&y, b + i, 8);
        diff |= x ^ y;
    }
    return detail::declassify_verdict(diff == 0);
}

/// How a stored secret hash was computed. The numbers are what databases store.
enum class hash_scheme : std::uint8_t {
    blake2b_v1 = 1,  ///< BLAKE2b-256, personal "tokenauth/accv1", of id || secret (legacy)
    sha256_v2 = 2,   ///< SHA-256 of "ta/acc2" || id || secret (current)
};
inline constexpr hash_scheme current_hash_scheme = hash_scheme::sha256_v2;

/// The scheme stored as number, or false when no scheme has that number.
[[nodiscard]] inline bool hash_scheme_from_number(long long number, hash_scheme& out) noexcept {
    if (number != 1 && number != 2) return false;
    out = static_cast<hash_scheme>(number);
    return true;
}

namespace detail {
// BLAKE2b personalisation of the legacy scheme (exactly 16 bytes).
inline constexpr std::uint8_t access_secret_personal[crypto_generichash_blake2b_PERSONALBYTES] = {
    't', 'o', 'k', 'e', 'n', 'a', 'u', 't', 'h', '/', 'a', 'c', 'c', 'v', '1', 0};
// The current scheme's domain-separation prefix: 7 bytes, so that prefix, id and secret
// (55 bytes) fill one SHA-256 block with the padding.
inline constexpr std::uint8_t access_secret_domain[7] = {'t', 'a', '/', 'a', 'c', 'c', '2'};
}  // namespace detail

/// Hashes a 32-byte secret for storage, bound to a 16-byte token id, with the current
/// scheme (SHA-256). Never fails, never allocates.
inline secret_hash hash_secret(const std::uint8_t (&id)[16], const std::uint8_t (&secret)[secret_size]) noexcept {
    secret_hash out;
#if defined(TOKENAUTH_HAVE_SHA_HW)
    if (detail::cpu_has_sha_extensions()) {
        detail::sha256_7_16_32_hw(detail::access_secret_domain, id, secret, out.bytes);
        return out;
    }
#endif
    std::uint8_t input[sizeof detail::access_secret_domain + 16 + secret_size];
    for (std::size_t i = 0; i < sizeof detail::access_secret_domain; ++i) input[i] = detail::access_secret_domain[i];
    for (std::size_t i = 0; i < 16; ++i) input[7 + i] = id[i];
    for (std::size_t i = 0; i < secret_size; ++i) input[23 + i] = secret[i];
    crypto_hash_sha256(out.bytes, input, sizeof input);
    wipe(input, sizeof input);
    return out;
}

/// The legacy scheme (hash_scheme::blake2b_v1): what records written before SHA-256 hold.
/// Needs sodium initialised (ensure_sodium_init).
inline secret_hash hash_secret_blake2b(const std::uint8_t (&id)[16], const std::uint8_t (&secret)[secret_size]) noexcept {
    // One BLAKE2b block: 16 bytes of id then 32 bytes of secret, personalised.
    std::uint8_t input[16 + secret_size];
    for (std::size_t i = 0; i < 16; ++i) input[i] = id[i];
    for (std::size_t i = 0; i < secret_size; ++i) input[16 + i] = secret[i];
    secret_hash out;
    crypto_generichash_blake2b_salt_personal(out.bytes, sizeof out.bytes, input, sizeof input, nullptr, 0,
                                             nullptr, detail::access_secret_personal);
    wipe(input, sizeof input);
    return out;
}

/// The hash of secret (for this id) under scheme.
inline secret_hash hash_secret(const std::uint8_t (&id)[16], const std::uint8_t (&secret)[secret_size],
                               hash_scheme scheme) noexcept {
    return scheme == hash_scheme::blake2b_v1 ? hash_secret_blake2b(id, secret) : hash_secret(id, secret);
}

/// True when secret hashes to expected (for this id) under scheme. Constant time in the
/// secret; the scheme is not secret.
[[nodiscard]] inline bool verify_secret(const std::uint8_t (&id)[16], const std::uint8_t (&secret)[secret_size],
                                        const secret_hash& expected,
                                        hash_scheme scheme = current_hash_scheme) noexcept {
    const secret_hash actual = hash_secret(id, secret, scheme);
    return constant_time_equal(actual.bytes, expected.bytes);
}

TOKENAUTH_ABI_END
}  // namespace tokenauth
