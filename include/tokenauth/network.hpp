// tokenauth: IP addresses, network prefixes (CIDR) and the bounds a token may carry.
//
//   ip_address      16 bytes; an IPv4 address is held IPv4-mapped (::ffff:a.b.c.d), so a
//                   dual-stack socket's "::ffff:10.1.2.3" and "10.1.2.3" are one address
//   ip_prefix       an address and a length in bits over those 16 bytes (IPv4 /n is 96 + n)
//   network_bounds  at most max_network_prefixes prefixes; an address is allowed when any
//                   one holds it
//   network_table   distinct bounds, each named by a small index (token_record::network)
//
// Parsing is strict: dotted quads without leading zeros, IPv6 as RFC 4291 writes it (no zone,
// no brackets), a prefix length in decimal without leading zeros, and no bits set after the
// prefix (10.0.0.1/8 is an error, not 10.0.0.0/8). Nothing here throws or allocates except
// to_string() and network_table::intern().
#pragma once

#include "detail/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "detail/interned.hpp"
#include "error.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// An IPv4 or IPv6 address (IPv4 held IPv4-mapped).
struct ip_address {
    std::uint8_t bytes[16] = {};

    /// True for an IPv4 address (in ::ffff:0:0/96).
    bool is_v4() const noexcept {
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return std::memcmp(bytes, mapped, sizeof mapped) == 0;
    }
    friend bool operator==(const ip_address& a, const ip_address& b) noexcept {
        return std::memcmp(a.bytes, b.bytes, sizeof a.bytes) == 0;
    }
    friend bool operator<(const ip_address& a, const ip_address& b) noexcept {
        return std::memcmp(a.bytes, b.bytes, sizeof a.bytes) < 0;
    }
};

/// A network: the addresses whose first `length` bits (of the 128) are those of `address`.
struct ip_prefix {
    ip_address address;
    std::uint8_t length = 128;

    /// True when a is in this network.
    bool contains(const ip_address& a) const noexcept {
        const std::size_t whole = length / 8;
        if (std::memcmp(address.bytes, a.bytes, whole) != 0) return false;
        const unsigned rest = length % 8;
        if (rest == 0) return true;
        const auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
        return (address.bytes[whole] & mask) == (a.bytes[whole] & mask);
    }
    friend bool operator==(const ip_prefix& a, const ip_prefix& b) noexcept {
        return a.length == b.length && a.address == b.address;
    }
    friend bool operator<(const ip_prefix& a, const ip_prefix& b) noexcept {
        return a.address == b.address ? a.length < b.length : a.address < b.address;
    }
};

/// The most prefixes one token's bounds hold.
inline constexpr std::size_t max_network_prefixes = 16;

/// The networks a token may be used from.
struct network_bounds {
    ip_prefix prefixes[max_network_prefixes];
    std::uint8_t count = 0;

    /// True when one of the prefixes holds a.
    bool allows(const ip_address& a) const noexcept {
        for (std::size_t i = 0; i < count; ++i)
            if (prefixes[i].contains(a)) return true;
        return false;
    }
    friend bool operator<(const network_bounds& a, const network_bounds& b) noexcept {
        if (a.count != b.count) return a.count < b.count;
        for (std::size_t i = 0; i < a.count; ++i)
            if (!(a.prefixes[i] == b.prefixes[i])) return a.prefixes[i] < b.prefixes[i];
        return false;
    }
};

namespace detail {

inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// A decimal of 1 to 3 digits, no leading zero, at most max; -1 otherwise.
inline int small_decimal(std::string_view s, int max) noexcept {
    if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return -1;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v <= max ? v : -1;
}

/// A dotted quad into out[0..3].
inline bool parse_v4(std::string_view s, std::uint8_t* out) noexcept {
    for (int i = 0; i < 4; ++i) {
        const std::size_t dot = i < 3 ? s.find('.') : s.size();
        if (dot == std::string_view::npos) return false;
        const int v = small_decimal(s.substr(0, dot), 255);
        if (v < 0) return false;
        out[i] = static_cast<std::uint8_t>(v);
        s = i < 3 ? s.substr(dot + 1) : std::string_view{};
    }
    return true;
}

/// Colon-separated groups (the last may be a dotted quad) into out, as 16-bit words; the
/// number of words written, or -1.
inline int parse_v6_groups(std::string_view s, std::uint16_t* out, int room) noexcept {
    if (s.empty()) return 0;
    int n = 0;
    while (true) {
        const std::size_t colon = s.find(':');
        const std::string_view group = s.substr(0, colon);
        if (colon == std::string_view::npos && group.find('.') != std::string_view::npos) {
            std::uint8_t v4[4];
            if (n + 2 > room || !parse_v4(group, v4)) return -1;
            out[n++] = static_cast<std::uint16_t>(v4[0] << 8 | v4[1]);
            out[n++] = static_cast<std::uint16_t>(v4[2] << 8 | v4[3]);
            return n;
        }
        if (group.empty() || group.size() > 4 || n == room) return -1;
        unsigned v = 0;
        for (char c : group) {
            const int h = hex_value(c);
            if (h < 0) return -1;
            v = v << 4 | static_cast<unsigned>(h);
        }
        out[n++] = static_cast<std::uint16_t>(v);
        if (colon == std::string_view::npos) return n;
        s = s.substr(colon + 1);
    }
}

inline bool parse_v6(std::string_view s, ip_address& out) noexcept {
    std::uint16_t head[8], tail[8];
    int nh = 0, nt = 0;
    const std::size_t gap = s.find("::");
    if (gap == std::string_view::npos) {
        nh = parse_v6_groups(s, head, 8);
        if (nh != 8) return false;
    } else {
        if (s.substr(0, gap).find('.') != std::string_view::npos) return false;  // a dotted quad ends an address
        nh = parse_v6_groups(s.substr(0, gap), head, 7);
        if (nh < 0) return false;
        nt = parse_v6_groups(s.substr(gap + 2), tail, 7 - nh);
        if (nt < 0) return false;
    }
    std::uint16_t words[8] = {};
    for (int i = 0; i < nh; ++i) words[i] = head[i];
    for (int i = 0; i < nt; ++i) words[8 - nt + i] = tail[i];
    for (int i = 0; i < 8; ++i) {
        out.bytes[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
        out.bytes[2 * i + 1] = static_cast<std::uint8_t>(words[i]);
    }
    return true;
}

}  // namespace detail

/// Parses an IPv4 or IPv6 address (no zone, no brackets, no prefix). errc::bad_address
/// when it is not one.
inline errc parse_ip_address(std::string_view s, ip_address& out) noexcept {
    ip_address a;
    if (s.size() > 45) return errc::bad_address;  // the longest IPv6 text form
    if (s.find(':') == std::string_view::npos) {
        a.bytes[10] = a.bytes[11] = 0xff;
        if (!detail::parse_v4(s, a.bytes + 12)) return errc::bad_address;
    } else if (!detail::parse_v6(s, a)) {
        return errc::bad_address;
    }
    out = a;
    return errc::ok;
}

/// Parses "address/length" (IPv4 /0 to /32, IPv6 /0 to /128) or a bare address (one host).
/// errc::bad_address when malformed or when bits after the prefix are set.
inline errc parse_ip_prefix(std::string_view s, ip_prefix& out) noexcept {
    const std::size_t slash = s.find('/');
    ip_prefix p;
    if (parse_ip_address(s.substr(0, slash), p.address) != errc::ok) return errc::bad_address;
    const bool v4_text = s.substr(0, slash).find(':') == std::string_view::npos;
    if (slash != std::string_view::npos) {
        const int n = detail::small_decimal(s.substr(slash + 1), v4_text ? 32 : 128);
        if (n < 0) return errc::bad_address;
        p.length = static_cast<std::uint8_t>(v4_text ? 96 + n : n);
    }
    // Set bits after the prefix: the prefix must hold only its own network address.
    for (unsigned bit = p.length; bit < 128; ++bit)
        if (p.address.bytes[bit / 8] & (0x80u >> (bit % 8))) return errc::bad_address;
    out = p;
    return errc::ok;
}

/// The canonical text of an address: a dotted quad for IPv4, RFC 5952 for IPv6.
inline std::string to_string(const ip_address& a) {
    std::string out;
    if (a.is_v4()) {
        for (int i = 12; i < 16; ++i) {
            if (i > 12) out += '.';
            out += std::to_string(a.bytes[i]);
        }
        return out;
    }
    unsigned words[8];
    for (int i = 0; i < 8; ++i) words[i] = static_cast<unsigned>(a.bytes[2 * i] << 8 | a.bytes[2 * i + 1]);
    // The longest run of two or more zero words (the first of equals) becomes "::".
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        if (words[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && words[j] == 0) ++j;
        if (j - i > best_len) best = i, best_len = j - i;
        i = j;
    }
    static constexpr char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const unsigned d = words[i] >> shift & 0xf;
            if (d != 0 || started || shift == 0) {
                out += digits[d];
                started = true;
            }
        }
    }
    return out;
}

/// The canonical text of a prefix: "10.0.0.0/8", "2001:db8::/32" (the length always shown).
inline std::string to_string(const ip_prefix& p) {
    const bool v4 = p.address.is_v4() && p.length >= 96;
    return to_string(p.address) + '/' + std::to_string(v4 ? p.length - 96 : p.length);
}

/// Adds p to b, keeping b sorted and without duplicates; errc::too_long when b already
/// holds max_network_prefixes others.
inline errc add_prefix(network_bounds& b, const ip_prefix& p) noexcept {
    std::size_t at = 0;
    while (at < b.count && b.prefixes[at] < p) ++at;
    if (at < b.count && b.prefixes[at] == p) return errc::ok;
    if (b.count == max_network_prefixes) return errc::too_long;
    for (std::size_t i = b.count; i > at; --i) b.prefixes[i] = b.prefixes[i - 1];
    b.prefixes[at] = p;
    ++b.count;
    return errc::ok;
}

/// Parses a comma-separated list of prefixes (no spaces), as to_string(network_bounds)
/// writes it: errc::bad_address for a bad item or an empty list, errc::too_long beyond
/// max_network_prefixes distinct prefixes.
inline errc parse_network_bounds(std::string_view list, network_bounds& out) noexcept {
    network_bounds b;
    if (list.empty()) return errc::bad_address;
    while (true) {
        const std::size_t comma = list.find(',');
        ip_prefix p;
        if (const errc e = parse_ip_prefix(list.substr(0, comma), p); e != errc::ok) return e;
        if (const errc e = add_prefix(b, p); e != errc::ok) return e;
        if (comma == std::string_view::npos) break;
        list = list.substr(comma + 1);
    }
    out = b;
    return errc::ok;
}

/// The bounds as a comma-separated list of canonical prefixes, in their (sorted) order.
inline std::string to_string(const network_bounds& b) {
    std::string out;
    for (std::size_t i = 0; i < b.count; ++i) {
        if (i > 0) out += ',';
        out += to_string(b.prefixes[i]);
    }
    return out;
}

/// The distinct network bounds of tokens, each named by a small index, so that a token
/// record carries 4 bytes instead of its prefixes. Index 0 is "any address". allows() is
/// lock-free and safe from any thread while intern() runs; intern() serialises writers and
/// may throw std::bad_alloc or std::length_error.
class network_table {
public:
    static constexpr std::uint32_t unbounded = 0;

    /// The index of bounds, adding them when new (the same prefixes in another order are
    /// other bounds: keep them sorted). Returns unbounded for empty bounds.
    std::uint32_t intern(const network_bounds& b) {
        return b.count == 0 ? unbounded : table_.intern(b, "too many distinct token network bounds");
    }

    /// The bounds of index i; nullptr for unbounded and for an index never returned by intern().
    const network_bounds* bounds(std::uint32_t i) const noexcept { return table_.get(i); }

    /// True when a credential of bounds i may be used from client: always for unbounded;
    /// never for other bounds without a client address, nor for an index intern() never
    /// returned (fail closed).
    bool allows(std::uint32_t i, const ip_address* client) const noexcept {
        if (i == unbounded) return true;
        const network_bounds* b = table_.get(i);
        return b != nullptr && client != nullptr && b->allows(*client);
    }

private:
    detail::interned_table<network_bounds> table_;
};

TOKENAUTH_ABI_END
}  // namespace tokenauth
