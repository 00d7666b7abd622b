// Property: the server's request-body decoders never crash and never throw (they are
// noexcept, so an escaping exception terminates); a failure always carries a 400 with a
// description.
#include "http/decoders.hpp"

#include <string_view>

#include "fuzz_common.hpp"

namespace {
template <class T>
void check(const tokenauth::server::decoded<T>& d) {
    if (!d) {
        FUZZ_CHECK(d.error.status == 400);
        FUZZ_CHECK(!d.error.description.empty());
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace tokenauth::server;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    check(decode_token_create(body));
    check(decode_token_modify(body));
    check(decode_token_rotate(body));
    check(decode_login(body));
    check(decode_change_password(body));
    check(decode_set_password(body));
    check(decode_user(body, false));
    check(decode_user(body, true));
    check(decode_group(body, false));
    check(decode_group(body, true));
    check(decode_group_member(body));
    check(decode_role(body, false));
    check(decode_role(body, true));
    check(decode_identity(body));
    check(decode_identity_expand(body));
    check(decode_identity_text(body));
    check(decode_revoke(body));
    check(decode_introspection(body));
    check(decode_token_review(body));
    return 0;
}
