#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include <tokenauth/token.hpp>

#include <set>
#include <string>

#include "helpers.hpp"

using tokenauth::errc;

TEST_CASE("a generated token is 82 characters and parses back to the same id and secret", "[token]") {
    for (int i = 0; i < 200; ++i) {
        const auto t = tokenauth::generate_access_token();
        const std::string text = tokenauth::encode_access_token(t);
        REQUIRE(text.size() == 82);
        REQUIRE(text.rfind("access-v1:", 0) == 0);
        REQUIRE(text.back() == '=');
        const auto parsed = tokenauth::parse_access_token(text);
        REQUIRE(parsed.ok());
        CHECK(parsed->id == t.id);
        CHECK(std::equal(std::begin(t.secret), std::end(t.secret), std::begin(parsed->secret)));
        CHECK(tokenauth::encode_access_token(*parsed) == text);
    }
}

TEST_CASE("generated ids and secrets are distinct", "[token]") {
    std::set<std::string> ids, secrets;
    for (int i = 0; i < 1000; ++i) {
        const auto t = tokenauth::generate_access_token();
        ids.insert(tokenauth::to_string(t.id));
        secrets.insert(std::string(std::begin(t.secret), std::end(t.secret)));
    }
    CHECK(ids.size() == 1000);
    CHECK(secrets.size() == 1000);
}

TEST_CASE("parse rejects each bad-input class with its own code", "[token]") {
    const std::string good = tokenauth::encode_access_token(tokenauth::generate_access_token());
    const std::string body = good.substr(10);
    std::string pad_bits = good;
    pad_bits[80] = static_cast<char>(pad_bits[80] == 'A' ? 'B' : pad_bits[80] ^ 1);  // low bits of last char

    struct row {
        const char* what;
        std::string input;
        errc expected;
    };
    const row rows[] = {
        {"empty", "", errc::bad_prefix},
        {"prefix only", "access-v1:", errc::bad_length},
        {"wrong prefix case", "Access-v1:" + body, errc::bad_prefix},
        {"upper-case prefix", "ACCESS-V1:" + body, errc::bad_prefix},
        {"other version prefix", "access-v2:" + body, errc::bad_prefix},
        {"session prefix", "session-v1:" + body, errc::bad_prefix},
        {"no prefix", body, errc::bad_prefix},
        {"truncated by one", good.substr(0, 81), errc::bad_length},
        {"truncated to half", good.substr(0, 41), errc::bad_length},
        {"overlong by one", good + "A", errc::bad_length},
        {"overlong by a block", good + "AAAA", errc::bad_length},
        {"missing padding", good.substr(0, 81), errc::bad_length},
        {"leading space", " " + good.substr(0, 81), errc::bad_prefix},
        {"trailing newline", good.substr(0, 81) + "\n", errc::bad_encoding},
        {"space inside", good.substr(0, 30) + " " + good.substr(31), errc::bad_encoding},
        {"url-safe minus", good.substr(0, 30) + "-" + good.substr(31), errc::bad_encoding},
        {"url-safe underscore", good.substr(0, 30) + "_" + good.substr(31), errc::bad_encoding},
        {"extra padding", good.substr(0, 80) + "==", errc::bad_padding},
        {"padding replaced by data", good.substr(0, 81) + "A", errc::bad_padding},
        {"non-zero pad bits", pad_bits, errc::noncanonical_encoding},
    };
    for (const auto& r : rows) {
        INFO(r.what);
        const auto parsed = tokenauth::parse_access_token(r.input);
        CHECK(parsed.code() == r.expected);
    }
}

TEST_CASE("a flipped bit anywhere in id, secret or checksum fails the checksum", "[token]") {
    const auto t = tokenauth::generate_access_token();
    std::uint8_t payload[tokenauth::access_token_payload_size];
    test_helpers::payload_of(tokenauth::encode_access_token(t), payload);
    for (std::size_t byte = 1; byte < sizeof payload; ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            std::uint8_t copy[sizeof payload];
            std::copy(std::begin(payload), std::end(payload), copy);
            copy[byte] ^= static_cast<std::uint8_t>(1u << bit);
            INFO("byte " << byte << " bit " << bit);
            const auto parsed = tokenauth::parse_access_token(test_helpers::access_token_from_payload(copy, false));
            CHECK(parsed.code() == errc::bad_checksum);
        }
    }
}

TEST_CASE("an unknown version is rejected even with a correct checksum", "[token]") {
    std::uint8_t payload[tokenauth::access_token_payload_size] = {};
    for (int v : {0, 2, 255}) {
        payload[0] = static_cast<std::uint8_t>(v);
        CHECK(tokenauth::parse_access_token(test_helpers::access_token_from_payload(payload)).code() ==
              errc::unsupported_version);
    }
    payload[0] = 1;
    CHECK(tokenauth::parse_access_token(test_helpers::access_token_from_payload(payload)).ok());
}

TEST_CASE("token ids print and parse as decimal strings", "[token]") {
    CHECK(tokenauth::to_string(tokenauth::token_id{}) == "0");
    const auto max = tokenauth::token_id::from_value(~tokenauth::detail::uint128{0});
    CHECK(tokenauth::to_string(max) == "340282366920938463463374607431768211455");
    CHECK(tokenauth::parse_token_id("340282366920938463463374607431768211455").value() == max);
    CHECK(tokenauth::parse_token_id("12345").value() == tokenauth::token_id::from_value(12345));
    // Around each 19-digit group's edges, and at random: the digits a division per digit gives.
    using tokenauth::detail::uint128;
    const auto naive = [](uint128 v) {
        std::string s;
        do {
            s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
            v /= 10;
        } while (v != 0);
        return s;
    };
    const uint128 e19 = 10'000'000'000'000'000'000ULL;
    std::vector<uint128> values = {1, 9, 10, e19 - 1, e19, e19 + 1, e19 * e19 - 1, e19 * e19, e19 * e19 + 1,
                                   e19 * e19 * 3, ~uint128{0} - 1};
    std::mt19937_64 rng(7);
    for (int i = 0; i < 1000; ++i) values.push_back((static_cast<uint128>(rng()) << 64 | rng()) >> (rng() % 128));
    for (const uint128 v : values) {
        const std::string want = naive(v);
        INFO(want);
        CHECK(tokenauth::to_string(tokenauth::token_id::from_value(v)) == want);
        CHECK(tokenauth::parse_token_id(want).value() == tokenauth::token_id::from_value(v));
    }
    for (const char* bad : {"", "-1", "+1", "01", "1a", " 1", "1 ", "340282366920938463463374607431768211456",
                            "9999999999999999999999999999999999999999"}) {
        INFO(bad);
        CHECK(tokenauth::parse_token_id(bad).code() == errc::bad_token_id);
    }
    for (int i = 0; i < 100; ++i) {
        const auto id = tokenauth::generate_access_token().id;
        CHECK(tokenauth::parse_token_id(tokenauth::to_string(id)).value() == id);
    }
}
