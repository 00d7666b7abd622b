#include <catch2/catch.hpp>

#include <sodium.h>
#include <tokenauth/detail/base64.hpp>
#include <tokenauth/secret.hpp>

#include <string>
#include <vector>

using tokenauth::errc;
using namespace tokenauth::detail;

namespace {
std::string encode(const std::vector<std::uint8_t>& in) {
    std::string out(base64_encoded_size(in.size()), '\0');
    base64_encode(in.data(), in.size(), out.data());
    return out;
}
errc decode(const std::string& in, std::vector<std::uint8_t>& out) {
    out.assign(in.size() / 4 * 3 + 3, 0);
    std::size_t n = 0;
    const errc e = base64_decode(in, out.data(), &n);
    out.resize(n);
    return e;
}
}  // namespace

TEST_CASE("every 6-bit value maps to the standard alphabet and back", "[base64]") {
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::uint32_t v = 0; v < 64; ++v) {
        CHECK(ct_encode_char(v) == alphabet[v]);
        CHECK(ct_decode_char(static_cast<unsigned char>(alphabet[v])) == v);
    }
    for (std::uint32_t c = 0; c < 256; ++c) {
        const bool in_alphabet = alphabet.find(static_cast<char>(c)) != std::string::npos;
        CHECK(((ct_decode_char(c) & 0x100u) == 0) == in_alphabet);
        CHECK(((ct_decode_char(c) & 0x200u) != 0) == (c == '='));
    }
}

TEST_CASE("RFC 4648 test vectors", "[base64]") {
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, coded] : vectors) {
        CHECK(encode(std::vector<std::uint8_t>(plain.begin(), plain.end())) == coded);
        std::vector<std::uint8_t> out;
        REQUIRE(decode(coded, out) == errc::ok);
        CHECK(std::string(out.begin(), out.end()) == plain);
    }
}

TEST_CASE("encode then decode is the identity for random data of every length", "[base64]") {
    tokenauth::ensure_sodium_init();
    for (std::size_t n = 0; n < 100; ++n) {
        std::vector<std::uint8_t> in(n);
        if (n != 0) randombytes_buf(in.data(), n);
        std::vector<std::uint8_t> out;
        REQUIRE(decode(encode(in), out) == errc::ok);
        CHECK(out == in);
    }
}

TEST_CASE("decoder rejects every non-canonical form with its own code", "[base64]") {
    struct row {
        std::string input;
        errc expected;
    };
    const row rows[] = {
        {"Zm9", errc::bad_length},        // not a multiple of 4 (missing padding)
        {"Zm9vY", errc::bad_length},
        {"Zg", errc::bad_length},
        {"Zm9 ", errc::bad_encoding},     // whitespace
        {" Zm9", errc::bad_encoding},
        {"Zm\n9", errc::bad_encoding},
        {"Zm9v\nZg=", errc::bad_encoding},
        {"Zm-_", errc::bad_encoding},     // URL-safe alphabet
        {"Zm9*", errc::bad_encoding},
        {std::string("Zm\0v", 4), errc::bad_encoding},
        {"Zg=a", errc::bad_padding},      // '=' in the middle
        {"Z===", errc::bad_padding},      // too much padding
        {"====", errc::bad_padding},
        {"Zg==Zg==", errc::bad_padding},  // padding before the end
        {"Zm=v", errc::bad_padding},
        {"Zh==", errc::noncanonical_encoding},  // 'h' has low bits set
        {"Zm9=", errc::noncanonical_encoding},  // '9' has low bits set
        {"Zg=*", errc::bad_encoding},     // a bad character outranks misplaced padding
    };
    for (const auto& r : rows) {
        INFO("input: " << r.input);
        std::vector<std::uint8_t> out;
        CHECK(decode(r.input, out) == r.expected);
        CHECK(out.empty());
    }
}

TEST_CASE("fixed-size decode checks the length and the padding shape", "[base64]") {
    std::uint8_t out[2];
    CHECK(base64_decode_fixed("Zm8=", out) == errc::ok);
    CHECK(out[0] == 'f');
    CHECK(out[1] == 'o');
    CHECK(base64_decode_fixed("Zm8", out) == errc::bad_length);
    CHECK(base64_decode_fixed("Zm8==", out) == errc::bad_length);
    CHECK(base64_decode_fixed("Zg==", out) == errc::bad_padding);  // 1 byte, not 2
    CHECK(base64_decode_fixed("Zm9v", out) == errc::bad_padding);  // 3 bytes, not 2
}
