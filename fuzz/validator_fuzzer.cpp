// Property: the validator, over a store holding a few known tokens, accepts only
// "Bearer " (any case) + exactly one of those tokens, and names that token's user.
#include <tokenauth/validator.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"

namespace {

struct world {
    tokenauth::memory_token_store store;
    tokenauth::manual_clock clock{1'700'000'000LL * tokenauth::nanos_per_second};
    std::vector<std::string> tokens;  // index = user auth_id - 1000
    tokenauth::validator validator{store, clock};

    world() {
        tokenauth::ensure_sodium_init();
        for (int i = 0; i < 4; ++i) {
            tokenauth::access_token t;
            for (int b = 0; b < 16; ++b) t.id.bytes[b] = static_cast<std::uint8_t>(i * 16 + b);
            for (int b = 0; b < 32; ++b) t.secret[b] = static_cast<std::uint8_t>(0x5A ^ (i * 32 + b));
            // Token 2 is disabled, token 3 expired.
            store.upsert(tokenauth::make_token_record(t, 1000 + static_cast<std::uint64_t>(i),
                                                      i == 3 ? clock.now() - 1 : tokenauth::never_expires, i != 2));
            tokens.push_back(tokenauth::encode_access_token(t));
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static world w;
    const std::string_view header(reinterpret_cast<const char*>(data), size);
    const auto who = w.validator.validate(header);
    if (!who) return 0;
    FUZZ_CHECK(header.size() > 7);
    FUZZ_CHECK(tokenauth::detail::iequals(header.substr(0, 7), "Bearer "));
    const std::string_view token = header.substr(7);
    FUZZ_CHECK(who->auth_id >= 1000 && who->auth_id < 1002);  // only the enabled, unexpired ones
    FUZZ_CHECK(token == w.tokens[who->auth_id - 1000]);
    return 0;
}
