// Property: identity parsing never crashes; string -> identity -> string -> identity and
// identity -> JSON -> identity are stable; arbitrary JSON never throws out of the decoder.
#include <tokenauth/identity.hpp>
#include <tokenauth/identity_json.hpp>

#include <string_view>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto id = tokenauth::parse_identity(text);
    if (id) {
        const std::string canonical = tokenauth::format_identity(*id);
        const auto again = tokenauth::parse_identity(canonical);
        FUZZ_CHECK(again.ok());
        FUZZ_CHECK(*again == *id);
        FUZZ_CHECK(tokenauth::format_identity(*again) == canonical);
        const auto from_json = tokenauth::identity_from_json(tokenauth::identity_to_json(*id));
        FUZZ_CHECK(from_json.ok());
        FUZZ_CHECK(*from_json == *id);
    }
    const auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    if (!j.is_discarded()) {
        const auto decoded = tokenauth::identity_from_json(j);  // noexcept: a throw would terminate
        if (decoded) {
            const auto again = tokenauth::identity_from_json(tokenauth::identity_to_json(*decoded));
            FUZZ_CHECK(again.ok());
            FUZZ_CHECK(*again == *decoded);
        }
    }
    return 0;
}
