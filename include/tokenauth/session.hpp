// tokenauth: the session-v1 login token format.
//
//   session-v1:<base64 of 65 bytes, standard alphabet, '=' padded: 88 characters>
//
//   offset size  field (integers big-endian)
//        0    1  version (1)
//        1    8  user auth_id
//        9    8  session generation of the user when the session was issued
//       17    8  issued at, nanoseconds since the epoch
//       25    8  expires at, nanoseconds since the epoch
//       33   32  keyed BLAKE2b-256 (32-byte server key, personalised) of bytes 0..32 followed
//                by the user's 16-byte session binding (not part of the token)
//
// A session is valid while the MAC verifies (compared in constant time), the clock has not
// passed its expiry, and its generation equals the user's current generation: bumping the
// generation (password change, user deletion) ends every session issued before.
//
// The binding is a random value a server fixes when it creates a user and never reuses.
// Because the MAC covers it, a session names one user incarnation: a later user who is given
// the same auth_id (after a restore from backup, say) has another binding, and the deleted
// user's sessions never verify as the new user.
#pragma once

#include "detail/config.hpp"

#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "detail/base64.hpp"
#include "error.hpp"
#include "secret.hpp"
#include "time.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

inline constexpr std::string_view session_token_prefix = "session-v1:";
inline constexpr std::uint8_t session_token_version = 1;
inline constexpr std::size_t session_payload_size = 1 + 8 + 8 + 8 + 8 + 32;  // 65
/// Exact length of a session-v1 bearer token: prefix + 88 base64 characters = 99.
inline constexpr std::size_t session_token_length =
    session_token_prefix.size() + detail::base64_encoded_size(session_payload_size);
/// Default session lifetime: 10 hours.
inline constexpr std::int64_t default_session_lifetime = 10LL * 3600 * nanos_per_second;

/// What a session token says.
struct session_claims {
    std::uint64_t auth_id = 0;
    std::uint64_t generation = 0;
    timestamp issued_at = 0;
    timestamp expires_at = 0;
};

/// A 32-byte server key for session MACs. Wiped on destruction.
struct session_key {
    std::uint8_t bytes[32] = {};
    session_key() = default;
    session_key(const session_key&) = default;
    session_key& operator=(const session_key&) = default;
    ~session_key() { wipe(bytes, sizeof bytes); }

    /// A fresh random key. Throws only if libsodium cannot initialise.
    static session_key generate() {
        session_key k;
        random_bytes(k.bytes, sizeof k.bytes);
        return k;
    }
};

/// A session key from its text form, 64 hex digits (a key file's content; line breaks at the
/// end are ignored). Fails with malformed otherwise.
inline result<session_key> parse_session_key_hex(std::string_view text) noexcept {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    session_key key;
    std::size_t bin_len = 0;
    if (text.size() != 64 || sodium_hex2bin(key.bytes, sizeof key.bytes, text.data(), text.size(), nullptr, &bin_len,
                                            nullptr) != 0 || bin_len != sizeof key.bytes)
        return errc::malformed;
    return key;
}

/// The per-user value a session MAC covers; see the file comment. Not secret, never reused.
struct session_binding {
    std::uint8_t bytes[16] = {};

    /// A fresh random binding. Throws only if libsodium cannot initialise.
    static session_binding generate() {
        session_binding b;
        random_bytes(b.bytes, sizeof b.bytes);
        return b;
    }
};

namespace detail {
inline constexpr std::uint8_t session_personal[crypto_generichash_blake2b_PERSONALBYTES] = {
    't', 'o', 'k', 'e', 'n', 'a', 'u', 't', 'h', '/', 's', 'e', 's', 'v', '1', 0};

inline void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
    for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}
inline void session_mac(const session_key& key, const std::uint8_t* body, const session_binding& binding,
                        std::uint8_t (&mac)[32]) noexcept {
    std::uint8_t input[33 + sizeof binding.bytes];
    for (int i = 0; i < 33; ++i) input[i] = body[i];
    for (std::size_t i = 0; i < sizeof binding.bytes; ++i) input[33 + i] = binding.bytes[i];
    crypto_generichash_blake2b_salt_personal(mac, sizeof mac, input, sizeof input, key.bytes, sizeof key.bytes,
                                             nullptr, session_personal);
}

/// The claims of a decoded payload (not yet authenticated).
inline session_claims session_claims_of(const std::uint8_t* payload) noexcept {
    session_claims c;
    c.auth_id = load_be64(payload + 1);
    c.generation = load_be64(payload + 9);
    c.issued_at = static_cast<timestamp>(load_be64(payload + 17));
    c.expires_at = static_cast<timestamp>(load_be64(payload + 25));
    return c;
}

/// Checks a decoded payload's MAC against the binding (constant time), then its expiry.
inline errc authenticate_session_payload(const session_key& key, const std::uint8_t* payload,
                                         const session_binding& binding, timestamp now) noexcept {
    std::uint8_t expected[32];
    session_mac(key, payload, binding, expected);
    std::uint8_t actual[32];
    for (int i = 0; i < 32; ++i) actual[i] = payload[33 + i];
    if (!constant_time_equal(expected, actual)) return errc::bad_signature;
    if (is_expired(static_cast<timestamp>(load_be64(payload + 25)), now)) return errc::expired;
    return errc::ok;
}
}  // namespace detail

/// Mints "session-v1:..." (99 characters) for the claims, bound to the user's binding. Never
/// fails once sodium is initialised (ensure_sodium_init).
inline std::string mint_session_token(const session_key& key, const session_claims& claims,
                                      const session_binding& binding) {
    std::uint8_t payload[session_payload_size];
    payload[0] = session_token_version;
    detail::store_be64(payload + 1, claims.auth_id);
    detail::store_be64(payload + 9, claims.generation);
    detail::store_be64(payload + 17, static_cast<std::uint64_t>(claims.issued_at));
    detail::store_be64(payload + 25, static_cast<std::uint64_t>(claims.expires_at));
    std::uint8_t mac[32];
    detail::session_mac(key, payload, binding, mac);
    for (int i = 0; i < 32; ++i) payload[33 + i] = mac[i];
    return detail::encode_prefixed(session_token_prefix, payload, sizeof payload);
}

/// Decodes and authenticates "session-v1:..." for a user whose binding is known, and checks
/// its expiry against now. Fails with bad_prefix, bad_length, bad_encoding, bad_padding,
/// noncanonical_encoding, unsupported_version, bad_signature or expired. The generation
/// check is the caller's (it needs the user's current generation); the validator looks up
/// binding and generation by the token's auth_id. Never allocates.
inline result<session_claims> verify_session_token(const session_key& key, std::string_view text, timestamp now,
                                                   const session_binding& binding) noexcept {
    std::uint8_t payload[session_payload_size];
    errc e = detail::decode_prefixed(text, session_token_prefix, session_token_version, payload);
    if (e != errc::ok) return e;
    e = detail::authenticate_session_payload(key, payload, binding, now);
    if (e != errc::ok) return e;
    return detail::session_claims_of(payload);
}

TOKENAUTH_ABI_END
}  // namespace tokenauth
