// Mints one access token into an in-memory store and validates Authorization headers with
// it: the library's whole hot path in a few lines. Usage: tokenauth-example [HEADER...]
#include <tokenauth/tokenauth.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    tokenauth::memory_token_store store;
    tokenauth::system_clock clock;
    const tokenauth::validator validator(store, clock);

    const auto token = tokenauth::generate_access_token();
    store.upsert(tokenauth::make_token_record(token, 1001));  // only the secret's hash is kept

    const std::string good = "Bearer " + tokenauth::encode_access_token(token);
    auto check = [&](const std::string& header, const char* label) {
        const auto who = validator.validate(header);
        if (who) std::printf("%-28s -> user %llu (token id %s)\n", label,
                             static_cast<unsigned long long>(who->auth_id), tokenauth::to_string(who->token).c_str());
        else std::printf("%-28s -> rejected: %s\n", label, who.detail());
    };
    check(good, "the minted token");
    check("Bearer access-v1:" + std::string(72, 'A'), "a token of zeros");
    check("Basic dXNlcjpwYXNz", "basic auth");
    for (int i = 1; i < argc; ++i) check(argv[i], argv[i]);
    return 0;
}
