// Property: the constant-time base64 decoder agrees with libsodium's sodium_base642bin
// (sodium_base64_VARIANT_ORIGINAL, no ignored characters): same accept/reject, same bytes,
// on all-ASCII input. Bytes >= 0x80 are always rejected by ours: libsodium 1.0.18 (Debian
// 12) passes `char` (signed here) to its constant-time comparisons, and its EQ() then
// matches every such byte against '+' and '/', decoding it as 63 (this fuzzer found that:
// input A1 98 C2 9E decodes under libsodium; see corpus/base64/sodium-high-bytes).
#include <sodium.h>
#include <tokenauth/detail/base64.hpp>

#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::uint8_t> ours(size / 4 * 3 + 3), theirs(size / 4 * 3 + 3);
    std::size_t ours_len = 0, theirs_len = 0;
    const bool ours_ok = tokenauth::detail::base64_decode(text, ours.data(), &ours_len) == tokenauth::errc::ok;
    const bool theirs_ok = sodium_base642bin(theirs.data(), theirs.size(), text.data(), text.size(), nullptr,
                                             &theirs_len, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0;
    bool ascii = true;
    for (char c : text) ascii &= static_cast<unsigned char>(c) < 0x80;
    if (!ascii) {
        FUZZ_CHECK(!ours_ok);
        return 0;
    }
    FUZZ_CHECK(ours_ok == theirs_ok);
    if (ours_ok) {
        FUZZ_CHECK(ours_len == theirs_len);
        FUZZ_CHECK(std::memcmp(ours.data(), theirs.data(), ours_len) == 0);
        // And the encoder gives the input back.
        std::vector<char> again(tokenauth::detail::base64_encoded_size(ours_len));
        tokenauth::detail::base64_encode(ours.data(), ours_len, again.data());
        FUZZ_CHECK(std::string_view(again.data(), again.size()) == text);
    }
    return 0;
}
