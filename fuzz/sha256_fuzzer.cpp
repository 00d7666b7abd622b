// Property: SHA-256 on the CPU's SHA instructions (detail/sha256.hpp) gives libsodium's
// crypto_hash_sha256 digest for every input, of every length the fuzzer gives it (the
// padding of a one-block, two-block and many-block tail); the first 55 bytes, as a 7-byte
// prefix and 16 and 32 bytes, give it through the registers-only token path too; and the
// at-rest token hash of the input's first 48 bytes (id, secret) is libsodium's SHA-256 of
// the domain prefix, id and secret. On a CPU
// without the SHA instructions there is nothing to compare against libsodium but itself:
// the fuzzer says so once on stderr.
#include <sodium.h>
#include <tokenauth/secret.hpp>

#include <cstdio>
#include <cstring>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    tokenauth::ensure_sodium_init();
    if (!tokenauth::detail::cpu_has_sha_extensions())
        std::fprintf(stderr, "sha256_fuzzer: this CPU has no SHA instructions; only the portable path runs\n");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    tokenauth::ensure_sodium_init();  // the replay runner calls no LLVMFuzzerInitialize
    std::uint8_t expected[32], got[32];
    crypto_hash_sha256(expected, data, size);
    tokenauth::detail::sha256(data, size, got);
    FUZZ_CHECK(std::memcmp(got, expected, 32) == 0);
    if (tokenauth::detail::cpu_has_sha_extensions()) {
        tokenauth::detail::sha256_accelerated(data, size, got);
        FUZZ_CHECK(std::memcmp(got, expected, 32) == 0);
    }
#if defined(TOKENAUTH_HAVE_SHA_HW)
    if (size >= 55 && tokenauth::detail::cpu_has_sha_extensions()) {
        std::uint8_t prefix[7];
        std::memcpy(prefix, data, 7);
        crypto_hash_sha256(expected, data, 55);
        tokenauth::detail::sha256_7_16_32_hw(prefix, data + 7, data + 23, got);
        FUZZ_CHECK(std::memcmp(got, expected, 32) == 0);
    }
#endif
    if (size >= 48) {
        std::uint8_t id[16], secret[32], input[55] = {'t', 'a', '/', 'a', 'c', 'c', '2'};
        std::memcpy(id, data, 16);
        std::memcpy(secret, data + 16, 32);
        std::memcpy(input + 7, data, 48);
        crypto_hash_sha256(expected, input, sizeof input);
        const tokenauth::secret_hash h = tokenauth::hash_secret(id, secret);
        FUZZ_CHECK(std::memcmp(h.bytes, expected, 32) == 0);
        FUZZ_CHECK(tokenauth::verify_secret(id, secret, h));
    }
    return 0;
}
