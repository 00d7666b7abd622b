#include <catch2/catch.hpp>

#include <tokenauth/secret.hpp>

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
