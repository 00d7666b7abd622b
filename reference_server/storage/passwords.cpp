// Storage: password hashing (Argon2id through libsodium).
#include <sodium.h>

#include <stdexcept>

#include "sqlite_store.hpp"

namespace tokenauth::server {

std::string hash_password(const std::string& password) {
    ensure_sodium_init();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        throw std::runtime_error("password hashing ran out of memory");
    return out;
}

bool verify_password(const std::string& hash, const std::string& password) {
    ensure_sodium_init();
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace tokenauth::server
