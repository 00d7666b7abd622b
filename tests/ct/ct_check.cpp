// Constant time, checked rather than claimed (run under Valgrind's memcheck by ctest).
//
// The characters of a real access token that carry secret bits, and a session key, are
// marked undefined. memcheck then reports every conditional jump and every memory index
// that depends on them: the validation path must produce none, apart from the verdicts it
// declassifies on purpose (detail/ct.hpp: the checksum matched, the hashes matched, the
// token id). Built three ways: the vector base64 path, the scalar one, and a deliberately
// branching variant that must be reported (so the check is seen to be able to fail).
#include <tokenauth/tokenauth.hpp>
#include <valgrind/memcheck.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

/// Base64 characters 22..65 of the 72 carry secret bits (bytes 17..48 of the payload);
/// characters 22 and 65 also carry a little of the id and of the checksum.
constexpr std::size_t secret_first_char = 22;
constexpr std::size_t secret_chars = 44;

void mark_secret(std::string& header) {
    const std::size_t at = std::strlen("Bearer ") + tokenauth::access_token_prefix.size() + secret_first_char;
    (void)VALGRIND_MAKE_MEM_UNDEFINED(header.data() + at, secret_chars);
}

struct one_user final : tokenauth::session_user_source {
    tokenauth::session_user user;
    bool session_user_of(std::uint64_t auth_id, tokenauth::session_user& out) const noexcept override {
        if (auth_id != 500) return false;
        out = user;
        return true;
    }
};

int failures = 0;

void expect(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "ct_check: %s\n", what);
        ++failures;
    }
}

}  // namespace

int main() {
    if (!RUNNING_ON_VALGRIND) {
        std::fprintf(stderr, "ct_check: must run under valgrind (ctest does this)\n");
        return 2;
    }
    tokenauth::ensure_sodium_init();
    tokenauth::memory_token_store store;
    tokenauth::manual_clock clock(1'700'000'000LL * tokenauth::nanos_per_second);
    const auto key = tokenauth::session_key::generate();
    one_user users;
    users.user.binding = tokenauth::session_binding::generate();
    const tokenauth::validator validator(store, clock, key, users);

    const auto token = tokenauth::generate_access_token();
    store.upsert(tokenauth::make_token_record(token, 1001));

    // 1. The right token: parse, look up, hash, compare.
    std::string good = "Bearer " + tokenauth::encode_access_token(token);
    mark_secret(good);
    const auto who = validator.validate(good);
    expect(who.ok() && who->auth_id == 1001, "the right token was not accepted");

#ifdef TOKENAUTH_CT_DELIBERATE_BRANCH
    // What the check exists to catch: a comparison that stops at the first differing byte.
    const auto parsed = tokenauth::parse_access_token(std::string_view(good).substr(7));
    if (parsed.ok() && std::memcmp(parsed->secret, token.secret, sizeof token.secret) == 0) std::puts("match");
#endif

    // 2. The same id with another secret (a valid checksum): the hash comparison fails.
    auto wrong = token;
    wrong.secret[7] ^= 0x40;
    std::string wrong_secret = "Bearer " + tokenauth::encode_access_token(wrong);
    mark_secret(wrong_secret);
    expect(validator.validate(wrong_secret).code() == tokenauth::errc::bad_secret, "a wrong secret was not bad_secret");

    // 3. A changed secret character: the checksum no longer matches.
    std::string typo = "Bearer " + tokenauth::encode_access_token(token);
    typo[7 + 10 + 40] = typo[7 + 10 + 40] == 'A' ? 'B' : 'A';
    mark_secret(typo);
    expect(validator.validate(typo).code() == tokenauth::errc::bad_checksum, "a typo was not bad_checksum");

    // 4. A session: the key is secret; minting and verifying must not branch on it.
    tokenauth::session_key secret_key = key;
    (void)VALGRIND_MAKE_MEM_UNDEFINED(secret_key.bytes, sizeof secret_key.bytes);
    const tokenauth::session_claims claims{500, 0, clock.now(), clock.now() + tokenauth::default_session_lifetime};
    const std::string session = tokenauth::mint_session_token(secret_key, claims, users.user.binding);
    const auto s = tokenauth::verify_session_token(secret_key, session, clock.now(), users.user.binding);
    expect(s.ok() && s->auth_id == 500, "a fresh session did not verify");
    const auto other = tokenauth::verify_session_token(secret_key, session, clock.now(), tokenauth::session_binding{});
    expect(other.code() == tokenauth::errc::bad_signature, "a session for another binding verified");

    // 5. A record of the legacy scheme (BLAKE2b): its own hash is compared, and the current
    //    one is queued for the upgrade; a wrong secret for it is bad_secret.
    const auto old_token = tokenauth::generate_access_token();
    auto old_record = tokenauth::make_token_record(old_token, 1002);
    old_record.hash = tokenauth::hash_secret_blake2b(old_token.id.bytes, old_token.secret);
    old_record.scheme = tokenauth::hash_scheme::blake2b_v1;
    store.upsert(old_record);
    std::string legacy = "Bearer " + tokenauth::encode_access_token(old_token);
    mark_secret(legacy);
    const auto legacy_who = validator.validate(legacy);
    expect(legacy_who.ok() && legacy_who->auth_id == 1002, "a legacy record's token was not accepted");
    auto old_wrong = old_token;
    old_wrong.secret[3] ^= 0x10;
    std::string legacy_wrong = "Bearer " + tokenauth::encode_access_token(old_wrong);
    mark_secret(legacy_wrong);
    expect(validator.validate(legacy_wrong).code() == tokenauth::errc::bad_secret,
           "a wrong secret for a legacy record was not bad_secret");

    // Valgrind's virtual CPU has no SHA extensions, so the SHA-256 checked above is the
    // portable one (libsodium); the accelerated path runs natively only.
    std::printf("ct_check: SHA-256 path checked: %s\n",
                tokenauth::detail::cpu_has_sha_extensions() ? "SHA instructions" : "portable (libsodium)");
    if (failures == 0) std::puts("ct_check: 5 paths checked");
    return failures == 0 ? 0 : 1;
}
