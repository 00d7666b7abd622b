// Shared helpers for the unit tests.
#pragma once

#include <tokenauth/tokenauth.hpp>

#include <string>

namespace test_helpers {

/// Re-encodes a 53-byte payload as an access-v1 token, recomputing the checksum unless told
/// not to: lets tests build tokens with a chosen version, id or secret.
inline std::string access_token_from_payload(std::uint8_t (&payload)[tokenauth::access_token_payload_size],
                                             bool fix_checksum = true) {
    if (fix_checksum) tokenauth::detail::store_be32(payload + 49, tokenauth::detail::access_checksum(payload));
    std::string out(tokenauth::access_token_prefix);
    std::string b64(tokenauth::detail::base64_encoded_size(sizeof payload), '\0');
    tokenauth::detail::base64_encode(payload, sizeof payload, &b64[0]);
    return out + b64;
}

/// The 53-byte payload of a well-formed token text.
inline void payload_of(const std::string& token, std::uint8_t (&payload)[tokenauth::access_token_payload_size]) {
    const auto e = tokenauth::detail::base64_decode_fixed(
        std::string_view(token).substr(tokenauth::access_token_prefix.size()), payload);
    REQUIRE(e == tokenauth::errc::ok);
}

}  // namespace test_helpers
