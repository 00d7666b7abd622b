// tokenauth: secrets at rest and constant-time comparison.
//
// A token secret is never stored. What is stored is a BLAKE2b-256 hash of the secret,
// personalised with a domain string and bound to the token id, so a hash from one context
// can never be replayed in another. Verification recomputes the hash and compares it with
// crypto_verify_32. Nothing in this header formats, prints or logs a secret.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "detail/ct.hpp"
#include "detail/wipe.hpp"

namespace tokenauth {

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
    // Only the verdict is public; crypto_verify_32 reads every byte without a branch.
    return detail::declassify_verdict(crypto_verify_32(a, b) == 0);
}

namespace detail {
// BLAKE2b personalisation (exactly 16 bytes): separates token-secret hashes from every
// other use of BLAKE2b in this library.
inline constexpr std::uint8_t access_secret_personal[crypto_generichash_blake2b_PERSONALBYTES] = {
    't', 'o', 'k', 'e', 'n', 'a', 'u', 't', 'h', '/', 'a', 'c', 'c', 'v', '1', 0};
}  // namespace detail

/// Hashes a 32-byte secret for storage, bound to a 16-byte token id. Never fails once
/// sodium is initialised (ensure_sodium_init).
inline secret_hash hash_secret(const std::uint8_t (&id)[16], const std::uint8_t (&secret)[secret_size]) noexcept {
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

/// True when secret hashes to expected (for this id). Constant time in the secret.
[[nodiscard]] inline bool verify_secret(const std::uint8_t (&id)[16], const std::uint8_t (&secret)[secret_size],
                          const secret_hash& expected) noexcept {
    const secret_hash actual = hash_secret(id, secret);
    return constant_time_equal(actual.bytes, expected.bytes);
}

}  // namespace tokenauth
