// Storage: the directory snapshot's read side (lookups, memberships, privileges, resolving
// identities). Pure functions of one immutable snapshot.
#include <algorithm>

#include "../names.hpp"
#include "../text.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

const tokenauth::role* directory::role(std::string_view name) const {
    if (!unkeyed_roles.empty())
        if (const auto it = unkeyed_roles.find(std::string(name)); it != unkeyed_roles.end()) return &roles[it->second];
    const auto it = role_keys.find(names::key(name));
    return it == role_keys.end() || it->second >= roles.size() ? nullptr : &roles[it->second];
}

std::optional<std::uint64_t> directory::principal_named(std::string_view name) const {
    if (!unkeyed_principals.empty())
        if (const auto it = unkeyed_principals.find(std::string(name)); it != unkeyed_principals.end()) return it->second;
    return principal_keys.find(names::key(name));
}

std::vector<std::uint64_t> directory::groups_of(std::uint64_t user_id) const {
    std::vector<std::uint64_t> out;
    if (const user_row* u = user(user_id)) out.push_back(u->primary_group);
    if (const persistent_set* explicit_groups = member_groups.find(user_id))
        explicit_groups->for_each([&](std::uint64_t g) {
            if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
        });
    return out;
}

std::vector<std::uint64_t> directory::members_of(std::uint64_t group_id) const {
    std::vector<std::uint64_t> out;
    if (const persistent_set* primaries = primary_members.find(group_id)) out = primaries->to_vector();
    if (const persistent_set* explicit_members = group_members.find(group_id)) {
        const std::size_t primary_count = out.size();
        explicit_members->for_each([&](std::uint64_t m) {
            if (!std::binary_search(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(primary_count), m))
                out.push_back(m);
        });
        std::inplace_merge(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(primary_count), out.end());
    }
    return out;
}

bool directory::is_explicit_member(std::uint64_t group, std::uint64_t member) const {
    const persistent_set* members = group_members.find(group);
    return members != nullptr && members->contains(member);
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
    if (users.contains(auth_id)) return principal_type::user;
    if (groups.contains(auth_id)) return principal_type::group;
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

// --- changes ---

namespace {
/// Counts entities a change writes into a directory (persistent_copies, exported as a metric).
void wrote(std::size_t n) { persistent_copies::entries().fetch_add(n, std::memory_order_relaxed); }
}  // namespace

void directory::forget_name(std::uint64_t id, const std::string& name) {
    if (!principal_keys.erase(names::key(name), id)) {
        const auto it = unkeyed_principals.find(name);
        if (it != unkeyed_principals.end() && it->second == id) unkeyed_principals.erase(it);
    }
}

void directory::index_principal_name(std::uint64_t id, const std::string& name, const std::optional<std::string>& key) {
    if (key) principal_keys.set(*key, id);
    else unkeyed_principals.emplace(name, id);
}

void directory::put_user(user_row u, const std::optional<std::string>& key) {
    const std::uint64_t id = u.auth_id;
    if (const user_row* old = user(id)) {
        forget_name(id, old->name);
        if (old->primary_group != u.primary_group) {
            persistent_set& before = primary_members[old->primary_group];
            before.erase(id);
            if (before.empty()) primary_members.erase(old->primary_group);
        }
    }
    index_principal_name(id, u.name, key);
    primary_members[u.primary_group].insert(id);
    users.set(id, std::move(u));
    touched.push_back(id);
    wrote(1);
}

void directory::put_group(group_row g, const std::optional<std::string>& key) {
    if (const group_row* old = group(g.auth_id)) forget_name(g.auth_id, old->name);
    index_principal_name(g.auth_id, g.name, key);
    groups.set(g.auth_id, std::move(g));
    wrote(1);
}

void directory::erase_principal(std::uint64_t id) {
    touched.push_back(id);  // a group stands for its members, read before they go
    wrote(1);
    if (const user_row* u = user(id)) {
        forget_name(id, u->name);
        persistent_set& primaries = primary_members[u->primary_group];
        primaries.erase(id);
        if (primaries.empty()) primary_members.erase(u->primary_group);
        if (const persistent_set* groups_of_id = member_groups.find(id)) {
            const auto list = groups_of_id->to_vector();
            for (const std::uint64_t g : list) remove_group_member(g, id);
        }
        users.erase(id);
    } else if (const group_row* g = group(id)) {
        forget_name(id, g->name);
        if (const persistent_set* members = group_members.find(id)) {
            members->for_each([&](std::uint64_t m) {
                persistent_set& groups_of_member = member_groups[m];
                groups_of_member.erase(id);
                if (groups_of_member.empty()) member_groups.erase(m);
            });
            wrote(members->size());
            group_members.erase(id);
        }
        groups.erase(id);
    }
    for (tokenauth::role& r : roles) r.remove_member(id);
}

void directory::add_group_member(std::uint64_t group, std::uint64_t member) {
    if (is_explicit_member(group, member)) return;
    group_members[group].insert(member);
    member_groups[member].insert(group);
    touched.push_back(member);
    wrote(1);
}

void directory::remove_group_member(std::uint64_t group, std::uint64_t member) {
    if (!is_explicit_member(group, member)) return;
    persistent_set& members = group_members[group];
    members.erase(member);
    if (members.empty()) group_members.erase(group);
    persistent_set& groups_of_member = member_groups[member];
    groups_of_member.erase(group);
    if (groups_of_member.empty()) member_groups.erase(member);
    touched.push_back(member);
    wrote(1);
}

void directory::set_group_members(std::uint64_t group, const std::vector<std::uint64_t>& members) {
    std::vector<std::uint64_t> now = members;
    std::sort(now.begin(), now.end());
    std::vector<std::uint64_t> before;
    if (const persistent_set* held = group_members.find(group)) before = held->to_vector();
    std::vector<std::uint64_t> gone, added;
    std::set_difference(before.begin(), before.end(), now.begin(), now.end(), std::back_inserter(gone));
    std::set_difference(now.begin(), now.end(), before.begin(), before.end(), std::back_inserter(added));
    for (const std::uint64_t m : gone) remove_group_member(group, m);
    for (const std::uint64_t m : added) add_group_member(group, m);
}

tokenauth::role* directory::role_exact(const std::string& name) {
    for (tokenauth::role& r : roles)
        if (r.name == name) return &r;
    return nullptr;
}

void directory::reindex_roles() {
    role_keys.clear();
    unkeyed_roles.clear();
    for (std::size_t i = 0; i < roles.size(); ++i) {
        if (role_stored_keys[i]) role_keys.emplace(*role_stored_keys[i], i);
        else unkeyed_roles.emplace(roles[i].name, i);
    }
}

void directory::put_role(const std::string& name, tokenauth::role r, const std::optional<std::string>& key) {
    if (const tokenauth::role* old = role_exact(name)) {
        if (old->privileges != r.privileges) {
            touched.insert(touched.end(), old->members.begin(), old->members.end());
            touched.insert(touched.end(), r.members.begin(), r.members.end());
        } else {
            std::set_symmetric_difference(old->members.begin(), old->members.end(), r.members.begin(), r.members.end(),
                                          std::back_inserter(touched));
        }
        const std::size_t i = static_cast<std::size_t>(old - roles.data());
        roles.erase(roles.begin() + static_cast<std::ptrdiff_t>(i));
        role_stored_keys.erase(role_stored_keys.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
        touched.insert(touched.end(), r.members.begin(), r.members.end());
    }
    const auto at = std::lower_bound(roles.begin(), roles.end(), r.name,
                                     [](const tokenauth::role& x, const std::string& n) { return x.name < n; });
    const auto i = at - roles.begin();
    wrote(1 + r.members.size());
    roles.insert(at, std::move(r));
    role_stored_keys.insert(role_stored_keys.begin() + i, key);
    reindex_roles();
}

void directory::erase_role(const std::string& name) {
    const tokenauth::role* old = role_exact(name);
    if (old == nullptr) return;
    touched.insert(touched.end(), old->members.begin(), old->members.end());
    const auto i = old - roles.data();
    roles.erase(roles.begin() + i);
    role_stored_keys.erase(role_stored_keys.begin() + i);
    reindex_roles();
}

void directory::add_role_member(const std::string& role, std::uint64_t member) {
    if (tokenauth::role* r = role_exact(role); r != nullptr && r->add_member(member)) {
        touched.push_back(member);
        wrote(1);
    }
}

void directory::remove_role_member(const std::string& role, std::uint64_t member) {
    if (tokenauth::role* r = role_exact(role); r != nullptr && r->remove_member(member)) {
        touched.push_back(member);
        wrote(1);
    }
}

}  // namespace tokenauth::server
