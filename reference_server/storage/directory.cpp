// Storage: the directory snapshot's read side (lookups, memberships, privileges, resolving
// identities). Pure functions of one immutable snapshot.
#include <algorithm>

#include "../names.hpp"
#include "../text.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

const user_row* directory::user(std::uint64_t id) const {
    const auto it = users.find(id);
    return it == users.end() ? nullptr : &it->second;
}

const group_row* directory::group(std::uint64_t id) const {
    const auto it = groups.find(id);
    return it == groups.end() ? nullptr : &it->second;
}

namespace {
/// The exact stored name among the unkeyed ones, else the key's holder.
template <class Value>
const Value* find_name(const std::unordered_map<std::string, Value>& keyed, const std::map<std::string, Value>& unkeyed,
                       std::string_view name) {
    if (!unkeyed.empty())
        if (const auto it = unkeyed.find(std::string(name)); it != unkeyed.end()) return &it->second;
    const auto it = keyed.find(names::key(name));
    return it == keyed.end() ? nullptr : &it->second;
}
}  // namespace

const tokenauth::role* directory::role(std::string_view name) const {
    const std::size_t* i = find_name(role_keys, unkeyed_roles, name);
    return i == nullptr || *i >= roles.size() ? nullptr : &roles[*i];
}

std::optional<std::uint64_t> directory::principal_named(std::string_view name) const {
    const std::uint64_t* id = find_name(principal_keys, unkeyed_principals, name);
    if (id == nullptr) return std::nullopt;
    return *id;
}

std::vector<std::uint64_t> directory::groups_of(std::uint64_t user_id) const {
    std::vector<std::uint64_t> out;
    if (const user_row* u = user(user_id)) out.push_back(u->primary_group);
    for (const auto& [g, members] : group_members)
        if (std::binary_search(members.begin(), members.end(), user_id) &&
            std::find(out.begin(), out.end(), g) == out.end())
            out.push_back(g);
    return out;
}

std::vector<std::uint64_t> directory::members_of(std::uint64_t group_id) const {
    std::vector<std::uint64_t> out;
    for (const auto& [id, u] : users)
        if (u.primary_group == group_id) out.push_back(id);
    const auto it = group_members.find(group_id);
    if (it != group_members.end())
        for (std::uint64_t m : it->second)
            if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    std::sort(out.begin(), out.end());
    return out;
}

privilege_set directory::privileges_of(std::uint64_t user_id) const {
    return effective_privileges(roles, user_id, groups_of(user_id));
}

std::vector<std::string> directory::roles_of(std::uint64_t user_id) const {
    const auto groups_list = groups_of(user_id);
    std::vector<std::string> out;
    for (const auto& r : roles)
        if (holds_role(r, user_id, groups_list)) out.push_back(r.name);
    return out;
}

std::optional<principal_type> directory::type_of(std::uint64_t auth_id) const {
    if (users.count(auth_id)) return principal_type::user;
    if (groups.count(auth_id)) return principal_type::group;
    return std::nullopt;
}

api_identity directory::identity_of(std::uint64_t auth_id) const {
    api_identity id;
    id.domain = identity_domain::local;
    id.auth_id = std::to_string(auth_id);
    id.sid = sid_of(auth_id);
    if (const user_row* u = user(auth_id)) {
        id.name = u->name;
        if (const auto v = text::parse_decimal(u->uid, UINT32_MAX)) id.uid = static_cast<std::uint32_t>(*v);
    } else if (const group_row* g = group(auth_id)) {
        id.name = g->name;
        if (const auto v = text::parse_decimal(g->gid, UINT32_MAX)) id.gid = static_cast<std::uint32_t>(*v);
    }
    return id;
}

std::optional<resolved> directory::resolve(const api_identity& id, std::string& why) const {
    if (id.domain && *id.domain != identity_domain::local && *id.domain != identity_domain::api_null_domain) {
        why = std::string("this server has only local users and groups; cannot resolve a ") + to_string(*id.domain) +
              " identity";
        return std::nullopt;
    }
    std::optional<std::uint64_t> found;
    auto by_name = [&](std::string name) -> std::optional<std::uint64_t> {
        // "NETBIOS\name": only the local machine's names resolve here.
        const std::size_t slash = name.find('\\');
        if (slash != std::string::npos) {
            const std::string domain = name.substr(0, slash);
            if (!text::iequals(domain, "local") && !text::iequals(domain, "builtin")) return std::nullopt;
            name = name.substr(slash + 1);
        }
        return principal_named(name);
    };
    if (id.auth_id) {
        const auto v = text::parse_decimal(*id.auth_id, UINT64_MAX);
        if (v && type_of(*v)) found = *v;
    } else if (id.sid) {
        const std::string prefix = machine_sid + "-";
        if (id.sid->size() > prefix.size() && text::iequals(id.sid->substr(0, prefix.size()), prefix)) {
            const auto v = text::parse_decimal(id.sid->substr(prefix.size()), UINT64_MAX);
            if (v && type_of(*v)) found = *v;
        }
    } else if (id.uid) {
        for (const auto& [aid, u] : users)
            if (u.uid == std::to_string(*id.uid)) found = aid;
    } else if (id.gid) {
        for (const auto& [aid, g] : groups)
            if (g.gid == std::to_string(*id.gid)) found = aid;
    } else if (id.name) {
        found = by_name(*id.name);
    } else {
        why = "the identity has none of auth_id, sid, uid, gid or name";
        return std::nullopt;
    }
    if (!found) {
        why = "no local user or group matches the identity";
        return std::nullopt;
    }
    // Every other field given must agree with what was found.
    const api_identity full = identity_of(*found);
    const bool agrees = (!id.auth_id || *id.auth_id == *full.auth_id) &&
                        (!id.sid || text::iequals(*id.sid, *full.sid)) && (!id.uid || id.uid == full.uid) &&
                        (!id.gid || id.gid == full.gid) && (!id.name || by_name(*id.name) == found);
    if (!agrees) {
        why = "the identity's fields name different principals";
        return std::nullopt;
    }
    return resolved{*type_of(*found), *found};
}

}  // namespace tokenauth::server
