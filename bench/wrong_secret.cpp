// Prints the given access token with one secret bit flipped and the checksum recomputed:
// a token that passes parsing and reaches the store, then fails the secret check (the real
// 401 path). For bench/http/run.sh. Usage: tokenauth-wrong-secret access-v1:...
#include <tokenauth/token.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    auto t = tokenauth::parse_access_token(argv[1]);
    if (!t) {
        std::fprintf(stderr, "not an access token: %s\n", t.detail());
        return 1;
    }
    t->secret[0] ^= 1;
    std::printf("%s\n", tokenauth::encode_access_token(*t).c_str());
    return 0;
}
