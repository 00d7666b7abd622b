// Property: verify_session_token never crashes, and input the fuzzer makes never verifies
// under the server key (the seed tokens are signed with a different key).
#include <tokenauth/session.hpp>

#include <string_view>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const tokenauth::session_key key = [] {
        tokenauth::ensure_sodium_init();
        tokenauth::session_key k;
        for (std::size_t i = 0; i < sizeof k.bytes; ++i) k.bytes[i] = static_cast<std::uint8_t>(0xA5 ^ i);
        return k;
    }();
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    static const tokenauth::session_binding binding{};
    const auto claims = tokenauth::verify_session_token(key, text, 0, binding);
    FUZZ_CHECK(!claims.ok());
    FUZZ_CHECK(claims.code() != tokenauth::errc::ok);
    return 0;
}
