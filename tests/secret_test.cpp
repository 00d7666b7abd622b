#include <catch2/catch.hpp>

#include <tokenauth/secret.hpp>

#include <string>
#include <thread>
#include <vector>

TEST_CASE("a secret verifies against its own hash only", "[secret]") {
    std::uint8_t id[16], secret[32];
    tokenauth::random_bytes(id, sizeof id);
    tokenauth::random_bytes(secret, sizeof secret);
    const auto h = tokenauth::hash_secret(id, secret);
    CHECK(tokenauth::verify_secret(id, secret, h));
    for (int i = 0; i < 32 * 8; ++i) {
        std::uint8_t other[32];
        std::copy(std::begin(secret), std::end(secret), other);
        other[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
        CHECK_FALSE(tokenauth::verify_secret(id, other, h));
    }
    // The hash is bound to the id: the same secret under another id does not verify.
    std::uint8_t other_id[16];
    std::copy(std::begin(id), std::end(id), other_id);
    other_id[15] ^= 1;
    CHECK_FALSE(tokenauth::verify_secret(other_id, secret, h));
}

namespace {
std::string hex(const std::uint8_t* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}
}  // namespace

TEST_CASE("SHA-256 gives the FIPS 180 digests and libsodium's on every length up to 300", "[secret][sha256]") {
    // Which path runs here is printed, so a log shows whether the SHA instructions were tested.
    WARN("SHA instructions on this CPU: " << (tokenauth::detail::cpu_has_sha_extensions() ? "yes" : "no"));
    std::uint8_t out[32];
    tokenauth::detail::sha256(nullptr, 0, out);
    CHECK(hex(out, 32) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const std::uint8_t abc[] = {'a', 'b', 'c'};
    tokenauth::detail::sha256(abc, 3, out);
    CHECK(hex(out, 32) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char* two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tokenauth::detail::sha256(reinterpret_cast<const std::uint8_t*>(two_blocks), 56, out);
    CHECK(hex(out, 32) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    std::vector<std::uint8_t> data(300);
    tokenauth::random_bytes(data.data(), data.size());
    for (std::size_t n = 0; n <= data.size(); ++n) {
        std::uint8_t expected[32];
        crypto_hash_sha256(expected, data.data(), n);
        tokenauth::detail::sha256(data.data(), n, out);
        INFO("length " << n);
        CHECK(hex(out, 32) == hex(expected, 32));
        if (tokenauth::detail::cpu_has_sha_extensions()) {
            tokenauth::detail::sha256_accelerated(data.data(), n, out);
            CHECK(hex(out, 32) == hex(expected, 32));
        }
    }
#if defined(TOKENAUTH_HAVE_SHA_HW)
    if (tokenauth::detail::cpu_has_sha_extensions()) {
        // The token layout in registers: any 7-byte prefix, 16 and 32 bytes.
        for (std::size_t off = 0; off + 55 <= data.size(); off += 17) {
            std::uint8_t prefix[7], expected[32];
            std::copy(data.begin() + static_cast<std::ptrdiff_t>(off), data.begin() + static_cast<std::ptrdiff_t>(off + 7), prefix);
            crypto_hash_sha256(expected, data.data() + off, 55);
            tokenauth::detail::sha256_7_16_32_hw(prefix, data.data() + off + 7, data.data() + off + 23, out);
            CHECK(hex(out, 32) == hex(expected, 32));
        }
    }
#endif
}

TEST_CASE("the at-rest hash is SHA-256 of the domain prefix, the id and the secret", "[secret][sha256]") {
    std::uint8_t id[16], secret[32];
    tokenauth::random_bytes(id, sizeof id);
    tokenauth::random_bytes(secret, sizeof secret);
    std::uint8_t input[55] = {'t', 'a', '/', 'a', 'c', 'c', '2'};
    std::copy(std::begin(id), std::end(id), input + 7);
    std::copy(std::begin(secret), std::end(secret), input + 23);
    std::uint8_t expected[32];
    crypto_hash_sha256(expected, input, sizeof input);
    CHECK(hex(tokenauth::hash_secret(id, secret).bytes, 32) == hex(expected, 32));
    CHECK(tokenauth::current_hash_scheme == tokenauth::hash_scheme::sha256_v2);
}

TEST_CASE("the legacy scheme is personalised BLAKE2b and verifies only under its own scheme", "[secret]") {
    std::uint8_t id[16], secret[32];
    tokenauth::random_bytes(id, sizeof id);
    tokenauth::random_bytes(secret, sizeof secret);
    std::uint8_t input[48];
    std::copy(std::begin(id), std::end(id), input);
    std::copy(std::begin(secret), std::end(secret), input + 16);
    const std::uint8_t personal[16] = {'t', 'o', 'k', 'e', 'n', 'a', 'u', 't', 'h', '/', 'a', 'c', 'c', 'v', '1', 0};
    std::uint8_t expected[32];
    crypto_generichash_blake2b_salt_personal(expected, 32, input, sizeof input, nullptr, 0, nullptr, personal);
    const auto legacy = tokenauth::hash_secret_blake2b(id, secret);
    CHECK(hex(legacy.bytes, 32) == hex(expected, 32));
    using tokenauth::hash_scheme;
    CHECK(tokenauth::verify_secret(id, secret, legacy, hash_scheme::blake2b_v1));
    CHECK_FALSE(tokenauth::verify_secret(id, secret, legacy, hash_scheme::sha256_v2));
    CHECK_FALSE(tokenauth::verify_secret(id, secret, tokenauth::hash_secret(id, secret), hash_scheme::blake2b_v1));
    hash_scheme parsed;
    CHECK(tokenauth::hash_scheme_from_number(1, parsed));
    CHECK(parsed == hash_scheme::blake2b_v1);
    CHECK(tokenauth::hash_scheme_from_number(2, parsed));
    CHECK(parsed == hash_scheme::sha256_v2);
    CHECK_FALSE(tokenauth::hash_scheme_from_number(0, parsed));
    CHECK_FALSE(tokenauth::hash_scheme_from_number(3, parsed));
}

TEST_CASE("the stored hash is not the secret and not plain BLAKE2b of it", "[secret]") {
    std::uint8_t id[16] = {}, secret[32];
    tokenauth::random_bytes(secret, sizeof secret);
    const auto h = tokenauth::hash_secret(id, secret);
    CHECK_FALSE(std::equal(std::begin(secret), std::end(secret), std::begin(h.bytes)));
    std::uint8_t plain[32];
    crypto_generichash(plain, sizeof plain, secret, sizeof secret, nullptr, 0);
    CHECK_FALSE(tokenauth::constant_time_equal(plain, h.bytes));
    // Deterministic: the same input always gives the same hash.
    CHECK(tokenauth::constant_time_equal(h.bytes, tokenauth::hash_secret(id, secret).bytes));
}

TEST_CASE("constant_time_equal compares all 32 bytes", "[secret]") {
    std::uint8_t a[32] = {}, b[32] = {};
    CHECK(tokenauth::constant_time_equal(a, b));
    for (int i = 0; i < 32; ++i) {
        b[i] = 1;
        CHECK_FALSE(tokenauth::constant_time_equal(a, b));
        b[i] = 0;
    }
}

TEST_CASE("sodium initialises once from many threads", "[secret]") {
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) threads.emplace_back([] { tokenauth::ensure_sodium_init(); });
    for (auto& t : threads) t.join();
    CHECK(sodium_init() == 1);  // 1 = already initialised
}
