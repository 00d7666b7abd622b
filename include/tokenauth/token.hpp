// tokenauth: the access-v1 bearer token format.
//
//   access-v1:<base64 of 53 bytes, standard alphabet, '=' padded: 72 characters>
//
//   offset size  field
//        0    1  version (1)
//        1   16  token id, a 128-bit unsigned integer, big-endian (the API's "id" is its
//                decimal string)
//       17   32  secret, from libsodium's CSPRNG
//       49    4  checksum, big-endian: a 32-bit mix of bytes 0..48
//
// The checksum is not a MAC; it lets a parser reject typos and random strings before any
// store lookup, and lets secret scanners recognise real tokens. The secret is authenticated
// only by comparing its hash with the stored hash (secret.hpp).
#pragma once

#include "detail/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "detail/base64.hpp"
#include "detail/int128.hpp"
#include "error.hpp"
#include "secret.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// A 128-bit token id (big-endian bytes). Not secret.
struct token_id {
    std::uint8_t bytes[16] = {};

    /// The id as an unsigned 128-bit integer.
    detail::uint128 value() const noexcept {
        detail::uint128 v = 0;
        for (std::uint8_t b : bytes) v = (v << 8) | b;
        return v;
    }
    /// The id from an unsigned 128-bit integer.
    static token_id from_value(detail::uint128 v) noexcept {
        token_id id;
        for (int i = 15; i >= 0; --i, v >>= 8) id.bytes[i] = static_cast<std::uint8_t>(v);
        return id;
    }
    /// A 64-bit hash of the id for table placement: a mix of all 128 bits, so that ids
    /// chosen by a caller (not only random ones) spread over a table.
    std::uint64_t hash() const noexcept {
        std::uint64_t hi = 0, lo = 0;
        for (int i = 0; i < 8; ++i) hi = (hi << 8) | bytes[i];
        for (int i = 8; i < 16; ++i) lo = (lo << 8) | bytes[i];
        std::uint64_t h = lo ^ (hi * 0x9E3779B97F4A7C15ull);
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDull;
        h ^= h >> 33;
        return h;
    }
    friend bool operator==(const token_id& a, const token_id& b) noexcept {
        std::uint8_t d = 0;
        for (int i = 0; i < 16; ++i) d |= a.bytes[i] ^ b.bytes[i];
        return d == 0;
    }
    friend bool operator!=(const token_id& a, const token_id& b) noexcept { return !(a == b); }
    friend bool operator<(const token_id& a, const token_id& b) noexcept {
        for (int i = 0; i < 16; ++i)
            if (a.bytes[i] != b.bytes[i]) return a.bytes[i] < b.bytes[i];
        return false;
    }
};

/// The decimal string of a token id (the API's "id"). Never fails.
inline std::string to_string(const token_id& id) {
    // At most 39 digits, written as 19-digit groups: two 128-bit divisions (a library call
    // each) instead of one per digit; the rest is 64-bit arithmetic.
    constexpr std::uint64_t e19 = 10'000'000'000'000'000'000ULL;
    detail::uint128 v = id.value();
    const auto low = static_cast<std::uint64_t>(v % e19);
    v /= e19;
    const auto mid = static_cast<std::uint64_t>(v % e19);
    const auto high = static_cast<std::uint64_t>(v / e19);
    char buf[40];
    char* p = buf + sizeof buf;
    const auto put = [&p](std::uint64_t x, bool all_19) {
        for (int i = 0; i < 19 && (all_19 || x != 0); ++i, x /= 10) *--p = static_cast<char>('0' + x % 10);
    };
    put(low, high != 0 || mid != 0);
    if (high != 0 || mid != 0) put(mid, high != 0);
    if (high != 0) put(high, false);
    if (p == buf + sizeof buf) *--p = '0';
    return std::string(p, buf + sizeof buf);
}

/// Parses a decimal token id: 1 to 39 ASCII digits, no sign, no leading zero (unless "0"),
/// at most 2^128-1. Fails with errc::bad_token_id.
inline result<token_id> parse_token_id(std::string_view s) noexcept {
    if (s.empty() || s.size() > 39) return {errc::bad_token_id, "token id must be 1 to 39 decimal digits"};
    if (s.size() > 1 && s[0] == '0') return {errc::bad_token_id, "token id has a leading zero"};
    detail::uint128 v = 0;
    const detail::uint128 max = ~static_cast<detail::uint128>(0);
    for (char c : s) {
        if (c < '0' || c > '9') return {errc::bad_token_id, "token id must be decimal digits"};
        const unsigned d = static_cast<unsigned>(c - '0');
        if (v > (max - d) / 10) return {errc::bad_token_id, "token id is out of range"};
        v = v * 10 + d;
    }
    return token_id::from_value(v);
}

/// A decoded access token: id and secret. The secret is wiped on destruction.
struct access_token {
    token_id id;
    std::uint8_t secret[secret_size] = {};

    access_token() = default;
    access_token(const access_token&) = default;
    access_token& operator=(const access_token&) = default;
    ~access_token() { wipe(secret, sizeof secret); }
};

inline constexpr std::string_view access_token_prefix = "access-v1:";
inline constexpr std::uint8_t access_token_version = 1;
inline constexpr std::size_t access_token_payload_size = 1 + 16 + secret_size + 4;  // 53
/// Exact length of an access-v1 bearer token: prefix + 72 base64 characters = 82.
inline constexpr std::size_t access_token_length =
    access_token_prefix.size() + detail::base64_encoded_size(access_token_payload_size);

namespace detail {

inline std::uint64_t load_le64(const std::uint8_t* p) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    std::uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
#else
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
#endif
}

/// The 32-bit checksum of the first 49 payload bytes. Constant time: only shifts, xors and
/// multiplications, no table. Each 8-byte word passes through a bijection of the state, so
/// a change confined to one word always changes the 64-bit state; the top 32 bits are kept.
inline std::uint32_t access_checksum(const std::uint8_t* p) noexcept {
    constexpr std::size_t n = 1 + 16 + secret_size;  // 49
    std::uint8_t tail[8] = {};
    tail[0] = p[48];
    std::uint64_t h = 0x746f6b656e617574ull ^ n;  // "tokenaut"
    for (std::size_t i = 0; i < 48; i += 8) {
        h = (h ^ load_le64(p + i)) * 0x9E3779B97F4A7C15ull;
        h = (h << 29) | (h >> 35);
    }
    h = (h ^ load_le64(tail)) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 29;
    return static_cast<std::uint32_t>(h >> 32);
}

inline void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

}  // namespace detail

/// Encodes a token as "access-v1:..." (82 characters). The result holds the secret: show
/// it once, never log it. Never fails.
inline std::string encode_access_token(const access_token& token) {
    std::uint8_t payload[access_token_payload_size];
    payload[0] = access_token_version;
    for (std::size_t i = 0; i < 16; ++i) payload[1 + i] = token.id.bytes[i];
    for (std::size_t i = 0; i < secret_size; ++i) payload[17 + i] = token.secret[i];
    detail::store_be32(payload + 49, detail::access_checksum(payload));
    std::string out = detail::encode_prefixed(access_token_prefix, payload, sizeof payload);
    wipe(payload, sizeof payload);
    return out;
}

/// Parses "access-v1:..." strictly. Fails, in this order, with bad_prefix, bad_length,
/// bad_encoding, bad_padding, noncanonical_encoding, unsupported_version, bad_checksum.
/// Constant time with respect to the secret; never allocates.
/**
 * Example:
 * @code
 *   auto parsed = tokenauth::parse_access_token(text);
 *   if (!parsed) std::puts(tokenauth::to_string(parsed.code()));
 *   else lookup(parsed->id);
 * @endcode
 */
inline result<access_token> parse_access_token(std::string_view text) noexcept {
    std::uint8_t payload[access_token_payload_size];
    const errc e = detail::decode_prefixed(text, access_token_prefix, access_token_version, payload);
    if (e != errc::ok) return e;
    // The checksum covers the secret; whether it matches is public (the token carries it),
    // so only that verdict is declassified; the checksum itself is computed without branches.
    const std::uint32_t difference = detail::value_barrier(detail::access_checksum(payload) ^ detail::load_be32(payload + 49));
    if (!detail::declassify_verdict(difference == 0)) {
        wipe(payload, sizeof payload);
        return errc::bad_checksum;
    }
    result<access_token> out{access_token{}};
    __builtin_memcpy(out->id.bytes, payload + 1, 16);
    detail::declassify(out->id.bytes, sizeof out->id.bytes);  // the id is public: the lookup key
    __builtin_memcpy(out->secret, payload + 17, secret_size);
    wipe(payload, sizeof payload);
    return out;
}

/// A fresh token: random 128-bit id and random 256-bit secret from libsodium's CSPRNG.
/// Throws std::runtime_error only if libsodium cannot initialise.
inline access_token generate_access_token() {
    access_token t;
    random_bytes(t.id.bytes, sizeof t.id.bytes);
    random_bytes(t.secret, sizeof t.secret);
    return t;
}

/// The hash to store for a token (secret.hpp's hash_secret bound to the token id).
inline secret_hash hash_access_token(const access_token& t) noexcept { return hash_secret(t.id.bytes, t.secret); }

TOKENAUTH_ABI_END
}  // namespace tokenauth
