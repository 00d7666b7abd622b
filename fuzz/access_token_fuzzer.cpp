// Property: parse_access_token never crashes, and anything it accepts re-encodes to exactly
// the input (the format is canonical: one token, one spelling).
#include <tokenauth/token.hpp>

#include <string_view>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto parsed = tokenauth::parse_access_token(text);
    if (parsed) FUZZ_CHECK(tokenauth::encode_access_token(*parsed) == text);
    return 0;
}
