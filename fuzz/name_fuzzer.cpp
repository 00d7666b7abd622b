// Property: the name rules (reference_server/names.hpp) never crash on any bytes; an accepted
// name is stable (checking its stored form accepts it again, with the same form and key), holds
// none of the refused characters, and its key is a fixed point of key() and matches key() of
// the raw input; key() takes any bytes.
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "names.hpp"

using tokenauth::server::names::check;
using tokenauth::server::names::key;
using tokenauth::server::names::kind;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string any_key = key(text);
    for (const kind k : {kind::principal, kind::role}) {
        const auto c = check(text, k);
        if (!c) {
            FUZZ_CHECK(c.name.empty() || !c.error.empty());
            continue;
        }
        FUZZ_CHECK(!c.name.empty() && c.name.size() <= tokenauth::server::names::max_bytes);
        FUZZ_CHECK(!c.key.empty());
        FUZZ_CHECK(c.key == any_key);
        FUZZ_CHECK(key(c.key) == c.key);
        FUZZ_CHECK(key(c.name) == c.key);
        const auto again = check(c.name, k);
        FUZZ_CHECK(again && again.name == c.name && again.key == c.key);
        FUZZ_CHECK(c.name.find_first_of(std::string_view(":\\\0\t\n\r", 6)) == std::string::npos);
        if (k == kind::role) FUZZ_CHECK(c.name.find('/') == std::string::npos && c.name != "." && c.name != "..");
        FUZZ_CHECK(c.name.front() != ' ' && c.name.back() != ' ');
    }
    return 0;
}
