// Property: the time parsers never crash; an accepted RFC 3339 (or human) input formats
// and re-parses to the same instant.
#include <tokenauth/time.hpp>

#include <string_view>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const auto& parsed : {tokenauth::parse_rfc3339(text), tokenauth::parse_human_time(text)}) {
        if (!parsed) {
            FUZZ_CHECK(parsed.detail() != nullptr && parsed.detail()[0] != '\0');
            continue;
        }
        for (auto suffix : {tokenauth::utc_suffix::z, tokenauth::utc_suffix::plus_zero}) {
            const auto again = tokenauth::parse_rfc3339(tokenauth::format_rfc3339(*parsed, suffix));
            FUZZ_CHECK(again.ok());
            FUZZ_CHECK(*again == *parsed);
        }
    }
    return 0;
}
