// Validates a freshly minted token through the umbrella header; exits 0 on success.
#include <tokenauth/tokenauth.hpp>

#include <cstdio>

int main() {
    tokenauth::memory_token_store store;
    tokenauth::system_clock clock;
    const auto token = tokenauth::generate_access_token();
    store.upsert(tokenauth::make_token_record(token, 1001));
    const tokenauth::validator validator(store, clock);
    const auto who = validator.validate("Bearer " + tokenauth::encode_access_token(token));
    const auto bad = validator.validate("Bearer access-v1:nope");
    if (!who || who->auth_id != 1001 || bad.code() != tokenauth::errc::bad_length) {
        std::puts("consumer: validation did not behave");
        return 1;
    }
    std::puts("consumer: ok");
    return 0;
}
