// tokenauth: identities. The api_identity model of the REST API and the string forms users
// type for it ("jane", "local:jane", "auth_id:1234", "SID:S-1-1-0", "uid:1000", ...).
// JSON conversion is in identity_json.hpp so this header needs no JSON library.
#pragma once

#include "detail/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "detail/text.hpp"
#include "error.hpp"
#include "limits.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// The domains of the API's identity model.
enum class identity_domain {
    local,
    api_null_domain,
    world,
    posix_user,
    posix_group,
    active_directory,
    api_invalid_domain,
    api_reserved_domain,
    api_internal_domain,
    api_operator_domain,
    api_creator_domain,
};

/// The wire name of a domain ("LOCAL", "ACTIVE_DIRECTORY", ...). Never fails or allocates.
constexpr const char* wire_name(identity_domain d) noexcept {
    switch (d) {
    case identity_domain::local: return "LOCAL";
    case identity_domain::api_null_domain: return "API_NULL_DOMAIN";
    case identity_domain::world: return "WORLD";
    case identity_domain::posix_user: return "POSIX_USER";
    case identity_domain::posix_group: return "POSIX_GROUP";
    case identity_domain::active_directory: return "ACTIVE_DIRECTORY";
    case identity_domain::api_invalid_domain: return "API_INVALID_DOMAIN";
    case identity_domain::api_reserved_domain: return "API_RESERVED_DOMAIN";
    case identity_domain::api_internal_domain: return "API_INTERNAL_DOMAIN";
    case identity_domain::api_operator_domain: return "API_OPERATOR_DOMAIN";
    case identity_domain::api_creator_domain: return "API_CREATOR_DOMAIN";
    }
    return "API_INVALID_DOMAIN";  // not an enumerator
}

/// wire_name(d) as a string.
inline std::string to_string(identity_domain d) { return wire_name(d); }

/// The domain with this exact wire name; fails with bad_identity.
inline result<identity_domain> parse_identity_domain(std::string_view s) noexcept {
    for (int i = 0; i <= static_cast<int>(identity_domain::api_creator_domain); ++i) {
        const auto d = static_cast<identity_domain>(i);
        if (s == wire_name(d)) return d;
    }
    return {errc::bad_identity, "unknown identity domain"};
}

/// An identity as the API carries it; any subset of the fields may be set.
struct api_identity {
    std::optional<identity_domain> domain;
    std::optional<std::string> auth_id;  ///< decimal string of a 64-bit unsigned integer
    std::optional<std::uint32_t> uid;
    std::optional<std::uint32_t> gid;
    std::optional<std::string> sid;
    std::optional<std::string> name;

    friend bool operator==(const api_identity& a, const api_identity& b) {
        return a.domain == b.domain && a.auth_id == b.auth_id && a.uid == b.uid && a.gid == b.gid &&
               a.sid == b.sid && a.name == b.name;
    }
    friend bool operator!=(const api_identity& a, const api_identity& b) { return !(a == b); }
};

namespace detail {

/// A decimal unsigned integer without sign, spaces or superfluous leading zeros, <= max.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) noexcept {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
        if (v > (max - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

}  // namespace detail

/// True for a SID in string form: "S-" (or "s-"), then two or more '-'-separated
/// decimal components, e.g. "S-1-5-21-1004336348-1177238915-682003330-512".
constexpr bool is_sid(std::string_view s) noexcept {
    if (s.size() < 5 || (s[0] != 'S' && s[0] != 's') || s[1] != '-') return false;
    int parts = 0;
    std::size_t len = 0;
    for (std::size_t i = 2; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '-') {
            if (len == 0 || len > 10) return false;
            ++parts;
            len = 0;
        } else if (s[i] >= '0' && s[i] <= '9') {
            ++len;
        } else {
            return false;
        }
    }
    return parts >= 2;
}

/// Whether parse_identity trims white space around the whole string and each half.
enum class identity_whitespace {
    trim,  ///< what a person typed (a CLI argument)
    keep,  ///< what a program sent (a query parameter): " admin" names " admin", not "admin"
};

/// Parses an identity string as clients do: "jane", "local:jane", "ad:jane",
/// "ldap_user:x", "ldap_group:x", "world:Everyone", "auth_id:1234", "uid:1000",
/// "gid:1000", "SID:S-1-1-0", "name:x", a bare SID, or "AD\jane". Prefixes are
/// case-insensitive and split at the first ':'; both halves are trimmed unless ws is keep;
/// a prefix holding '=' makes the whole string a name (an LDAP DN). Fails with
/// bad_identity or too_long.
/**
 * Example:
 * @code
 *   auto id = tokenauth::parse_identity("auth_id:500");   // id->auth_id == "500"
 * @endcode
 */
inline result<api_identity> parse_identity(std::string_view text, identity_whitespace ws = identity_whitespace::trim) {
    if (text.size() > max_identity_length) return {errc::too_long, "identity is too long"};
    const auto trim = [ws](std::string_view s) { return ws == identity_whitespace::trim ? detail::trim(s) : s; };
    const std::string_view whole = trim(text);
    if (whole.empty()) return {errc::bad_identity, "identity is empty"};
    api_identity id;
    const std::size_t colon = whole.find(':');
    const std::string_view prefix = colon == std::string_view::npos ? "" : trim(whole.substr(0, colon));
    if (colon == std::string_view::npos || prefix.find('=') != std::string_view::npos) {
        if (whole.size() > max_identity_name_length) return {errc::too_long, "identity name is too long"};
        if (is_sid(whole)) id.sid = std::string(whole);
        else id.name = std::string(whole);
        return id;
    }
    const std::string_view value = trim(whole.substr(colon + 1));
    if (value.empty()) return {errc::bad_identity, "identity has nothing after its prefix"};
    if (value.size() > max_identity_name_length) return {errc::too_long, "identity name is too long"};
    auto named = [&](std::optional<identity_domain> d) -> result<api_identity> {
        id.domain = d;
        id.name = std::string(value);
        return id;
    };
    if (detail::iequals(prefix, "local")) return named(identity_domain::local);
    if (detail::iequals(prefix, "ad")) return named(identity_domain::active_directory);
    if (detail::iequals(prefix, "ldap_user")) return named(identity_domain::posix_user);
    if (detail::iequals(prefix, "ldap_group")) return named(identity_domain::posix_group);
    if (detail::iequals(prefix, "world")) return named(identity_domain::world);
    if (detail::iequals(prefix, "name")) return named(std::nullopt);
    if (detail::iequals(prefix, "auth_id")) {
        const auto v = detail::parse_decimal(value, UINT64_MAX);
        if (!v) return {errc::bad_identity, "auth_id must be a non-negative 64-bit integer"};
        id.auth_id = std::to_string(*v);
        return id;
    }
    if (detail::iequals(prefix, "uid") || detail::iequals(prefix, "gid")) {
        const auto v = detail::parse_decimal(value, UINT32_MAX);
        if (!v) return {errc::bad_identity, "uid and gid must be non-negative 32-bit integers"};
        (detail::iequals(prefix, "uid") ? id.uid : id.gid) = static_cast<std::uint32_t>(*v);
        return id;
    }
    if (detail::iequals(prefix, "sid")) {
        if (!is_sid(value)) return {errc::bad_identity, "SID must look like S-1-5-21-..."};
        id.sid = std::string(value);
        return id;
    }
    return {errc::bad_identity,
            "unknown identity prefix (use local:, ad:, ldap_user:, ldap_group:, world:, auth_id:, uid:, gid:, sid: or name:)"};
}

/// The canonical string form of an identity, the inverse of parse_identity for identities
/// with one key field: auth_id, then sid, uid, gid, then the (domain-prefixed) name.
/// Returns "" for an identity with none of them.
inline std::string format_identity(const api_identity& id) {
    if (id.auth_id) return "auth_id:" + *id.auth_id;
    if (id.sid) return "sid:" + *id.sid;
    if (id.uid) return "uid:" + std::to_string(*id.uid);
    if (id.gid) return "gid:" + std::to_string(*id.gid);
    if (!id.name) return "";
    if (!id.domain) return "name:" + *id.name;
    switch (*id.domain) {
    case identity_domain::local: return "local:" + *id.name;
    case identity_domain::active_directory: return "ad:" + *id.name;
    case identity_domain::posix_user: return "ldap_user:" + *id.name;
    case identity_domain::posix_group: return "ldap_group:" + *id.name;
    case identity_domain::world: return "world:" + *id.name;
    case identity_domain::api_null_domain:
    case identity_domain::api_invalid_domain:
    case identity_domain::api_reserved_domain:
    case identity_domain::api_internal_domain:
    case identity_domain::api_operator_domain:
    case identity_domain::api_creator_domain: break;  // no prefix of their own
    }
    return "name:" + *id.name;
}

TOKENAUTH_ABI_END
}  // namespace tokenauth
