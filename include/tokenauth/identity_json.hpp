// tokenauth: api_identity <-> JSON (nlohmann/json). Kept apart from identity.hpp so that the
// core library does not need a JSON library.
//
// Output always carries all six keys, null where unset:
//   {"domain": "LOCAL", "auth_id": "500", "uid": null, "gid": null, "sid": "S-1-5-...", "name": "admin"}
#pragma once

#include "detail/config.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "identity.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// The JSON document of an identity, with all six keys. Never fails.
inline nlohmann::json identity_to_json(const api_identity& id) {
    nlohmann::json j = nlohmann::json::object();
    j["domain"] = id.domain ? nlohmann::json(to_string(*id.domain)) : nlohmann::json(nullptr);
    j["auth_id"] = id.auth_id ? nlohmann::json(*id.auth_id) : nlohmann::json(nullptr);
    j["uid"] = id.uid ? nlohmann::json(*id.uid) : nlohmann::json(nullptr);
    j["gid"] = id.gid ? nlohmann::json(*id.gid) : nlohmann::json(nullptr);
    j["sid"] = id.sid ? nlohmann::json(*id.sid) : nlohmann::json(nullptr);
    j["name"] = id.name ? nlohmann::json(*id.name) : nlohmann::json(nullptr);
    return j;
}

/// Reads an identity from a JSON object. Any subset of the six keys may be present; null
/// means unset; other keys are ignored. auth_id may be a decimal string or a non-negative
/// integer; uid and gid a non-negative 32-bit integer or its decimal string ("" = unset).
/// Fails with bad_identity naming the bad field; never throws.
inline result<api_identity> identity_from_json(const nlohmann::json& j) noexcept {
    if (!j.is_object()) return {errc::bad_identity, "identity must be a JSON object"};
    api_identity id;
    try {
        auto field = [&](const char* key) -> const nlohmann::json* {
            const auto it = j.find(key);
            return it == j.end() || it->is_null() ? nullptr : &*it;
        };
        if (const auto* d = field("domain")) {
            if (!d->is_string()) return {errc::bad_identity, "identity domain must be a string"};
            const auto domain = parse_identity_domain(d->get_ref<const std::string&>());
            if (!domain) return {errc::bad_identity, "identity domain is not a known domain"};
            id.domain = *domain;
        }
        if (const auto* a = field("auth_id")) {
            std::optional<std::uint64_t> v;
            if (a->is_string()) v = detail::parse_decimal(a->get_ref<const std::string&>(), UINT64_MAX);
            else if (a->is_number_unsigned()) v = a->get<std::uint64_t>();
            else if (a->is_number_integer() && a->get<std::int64_t>() >= 0) v = a->get<std::uint64_t>();
            if (!v) return {errc::bad_identity, "identity auth_id must be a decimal string"};
            id.auth_id = std::to_string(*v);
        }
        for (const char* key : {"uid", "gid"}) {
            const auto* u = field(key);
            if (!u) continue;
            std::optional<std::uint64_t> v;
            if (u->is_string()) {
                if (u->get_ref<const std::string&>().empty()) continue;
                v = detail::parse_decimal(u->get_ref<const std::string&>(), UINT32_MAX);
            } else if (u->is_number_integer() && (u->is_number_unsigned() || u->get<std::int64_t>() >= 0) &&
                       u->get<std::uint64_t>() <= UINT32_MAX) {
                v = u->get<std::uint64_t>();
            }
            if (!v) return {errc::bad_identity, "identity uid and gid must be 32-bit unsigned integers"};
            (key[0] == 'u' ? id.uid : id.gid) = static_cast<std::uint32_t>(*v);
        }
        if (const auto* s = field("sid")) {
            if (!s->is_string()) return {errc::bad_identity, "identity sid must be a string"};
            if (s->get_ref<const std::string&>().size() > max_identity_name_length)
                return {errc::too_long, "identity sid is too long"};
            if (!s->get_ref<const std::string&>().empty()) id.sid = s->get<std::string>();
        }
        if (const auto* n = field("name")) {
            if (!n->is_string()) return {errc::bad_identity, "identity name must be a string"};
            if (n->get_ref<const std::string&>().size() > max_identity_name_length)
                return {errc::too_long, "identity name is too long"};
            if (!n->get_ref<const std::string&>().empty()) id.name = n->get<std::string>();
        }
    } catch (const std::exception&) {
        return {errc::bad_identity, "identity could not be read"};
    }
    return id;
}

/// nlohmann/json ADL hook: writes all six keys.
inline void to_json(nlohmann::json& j, const api_identity& id) { j = identity_to_json(id); }

/// nlohmann/json ADL hook: throws std::invalid_argument with the detail on a bad document.
inline void from_json(const nlohmann::json& j, api_identity& id) {
    auto r = identity_from_json(j);
    if (!r) throw std::invalid_argument(r.detail());
    id = std::move(r).value();
}

TOKENAUTH_ABI_END
}  // namespace tokenauth
