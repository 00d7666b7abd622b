#include <catch2/catch.hpp>

#include <tokenauth/session.hpp>

using tokenauth::errc;

namespace {
tokenauth::session_claims claims_at(tokenauth::timestamp now) {
    tokenauth::session_claims c;
    c.auth_id = 500;
    c.generation = 7;
    c.issued_at = now;
    c.expires_at = now + tokenauth::default_session_lifetime;
    return c;
}
const tokenauth::session_binding binding = tokenauth::session_binding::generate();
}  // namespace

TEST_CASE("a minted session verifies and carries its claims", "[session]") {
    const auto key = tokenauth::session_key::generate();
    const tokenauth::timestamp now = 1'700'000'000LL * tokenauth::nanos_per_second;
    const std::string token = tokenauth::mint_session_token(key, claims_at(now), binding);
    CHECK(token.size() == tokenauth::session_token_length);
    CHECK(token.rfind("session-v1:", 0) == 0);
    const auto v = tokenauth::verify_session_token(key, token, now, binding);
    REQUIRE(v.ok());
    CHECK(v->auth_id == 500);
    CHECK(v->generation == 7);
    CHECK(v->issued_at == now);
    CHECK(v->expires_at == now + 10LL * 3600 * tokenauth::nanos_per_second);
}

TEST_CASE("a session expires exactly after its lifetime", "[session]") {
    const auto key = tokenauth::session_key::generate();
    const tokenauth::timestamp now = 1'700'000'000LL * tokenauth::nanos_per_second;
    const std::string token = tokenauth::mint_session_token(key, claims_at(now), binding);
    const auto end = now + tokenauth::default_session_lifetime;
    CHECK(tokenauth::verify_session_token(key, token, end, binding).ok());
    CHECK(tokenauth::verify_session_token(key, token, end + 1, binding).code() == errc::expired);
}

TEST_CASE("a session from another key or with any flipped bit does not verify", "[session]") {
    const auto key = tokenauth::session_key::generate();
    const auto other = tokenauth::session_key::generate();
    const tokenauth::timestamp now = 1'700'000'000LL * tokenauth::nanos_per_second;
    const std::string token = tokenauth::mint_session_token(key, claims_at(now), binding);
    CHECK(tokenauth::verify_session_token(other, token, now, binding).code() == errc::bad_signature);

    std::uint8_t payload[tokenauth::session_payload_size];
    REQUIRE(tokenauth::detail::base64_decode_fixed(std::string_view(token).substr(11), payload) == errc::ok);
    for (std::size_t byte = 1; byte < sizeof payload; ++byte) {
        std::uint8_t copy[sizeof payload];
        std::copy(std::begin(payload), std::end(payload), copy);
        copy[byte] ^= 0x10;
        std::string text = "session-v1:" + std::string(88, '\0');
        tokenauth::detail::base64_encode(copy, sizeof copy, &text[11]);
        INFO("byte " << byte);
        CHECK(tokenauth::verify_session_token(key, text, now, binding).code() == errc::bad_signature);
    }
}

TEST_CASE("session parse errors", "[session]") {
    const auto key = tokenauth::session_key::generate();
    const std::string token = tokenauth::mint_session_token(key, claims_at(0), binding);
    CHECK(tokenauth::verify_session_token(key, "", 0, binding).code() == errc::bad_prefix);
    CHECK(tokenauth::verify_session_token(key, "Session-v1:" + token.substr(11), 0, binding).code() == errc::bad_prefix);
    CHECK(tokenauth::verify_session_token(key, token.substr(0, 98), 0, binding).code() == errc::bad_length);
    CHECK(tokenauth::verify_session_token(key, token + "=", 0, binding).code() == errc::bad_length);
    std::string spaced = token;
    spaced[20] = ' ';
    CHECK(tokenauth::verify_session_token(key, spaced, 0, binding).code() == errc::bad_encoding);
    std::uint8_t payload[tokenauth::session_payload_size];
    REQUIRE(tokenauth::detail::base64_decode_fixed(std::string_view(token).substr(11), payload) == errc::ok);
    payload[0] = 2;
    std::string v2 = "session-v1:" + std::string(88, '\0');
    tokenauth::detail::base64_encode(payload, sizeof payload, &v2[11]);
    CHECK(tokenauth::verify_session_token(key, v2, 0, binding).code() == errc::unsupported_version);
}

TEST_CASE("a session is bound to its user's binding: another user with the same auth_id never matches",
          "[session]") {
    const auto key = tokenauth::session_key::generate();
    const tokenauth::timestamp now = 1'700'000'000LL * tokenauth::nanos_per_second;
    const std::string token = tokenauth::mint_session_token(key, claims_at(now), binding);
    REQUIRE(tokenauth::verify_session_token(key, token, now, binding).ok());
    // Same key, same claims (auth_id, generation): only the user incarnation differs.
    for (int i = 0; i < 64; ++i) {
        const auto reborn = tokenauth::session_binding::generate();
        CHECK(tokenauth::verify_session_token(key, token, now, reborn).code() == errc::bad_signature);
    }
    // Any single flipped bit of the binding is a different user.
    for (std::size_t bit = 0; bit < 128; ++bit) {
        tokenauth::session_binding b = binding;
        b.bytes[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        INFO("bit " << bit);
        CHECK(tokenauth::verify_session_token(key, token, now, b).code() == errc::bad_signature);
    }
}
