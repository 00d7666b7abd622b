// Property: privilege-name and privileges-file parsing never crash; an accepted name
// prints back as itself; every name of an accepted file is a real privilege.
#include <tokenauth/privilege.hpp>

#include <string_view>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (const auto p = tokenauth::parse_privilege(text)) FUZZ_CHECK(tokenauth::to_string(*p) == text);
    std::size_t line = 0;
    const auto list = tokenauth::parse_privilege_list(text, &line);
    if (list) {
        for (auto p : *list) FUZZ_CHECK(static_cast<std::size_t>(p) < tokenauth::privilege_count);
    } else if (list.code() == tokenauth::errc::unknown_privilege) {
        FUZZ_CHECK(line >= 1);
    }
    return 0;
}
