// Authorization beyond "holds privilege P": what a credential may do (its scope), the
// delegation rule that nobody grants or acts with privileges they do not hold, and the rule
// that the last administrator cannot be removed.
#include "router.hpp"
#include "../text.hpp"

#include <algorithm>

namespace tokenauth::server {

namespace {

std::string names_of(const privilege_set& s) {
    std::string out;
    for (privilege p : s.to_vector()) {
        if (!out.empty()) out += ", ";
        out += privilege_name(p);
    }
    return out;
}

api_error escalation(const char* what, const privilege_set& missing) {
    return {403, "privilege_escalation_error",
            std::string(what) + " requires holding every privilege it would give or act with; missing: " +
                names_of(missing)};
}

/// Whether a user can log in and holds the Administrators role (directly or through a group).
bool is_administrator(const directory& d, std::uint64_t id) {
    const tokenauth::role* admins = d.role("Administrators");
    const user_row* u = d.user(id);
    return admins != nullptr && u != nullptr && u->password_hash && holds_role(*admins, id, d.groups_of(id));
}

/// Whether any user is an administrator: a look at the role's members, and the members of
/// its groups, until one is found.
bool any_administrator(const directory& d) {
    const tokenauth::role* admins = d.role("Administrators");
    if (admins == nullptr) return false;
    const auto can_log_in = [&](std::uint64_t id) {
        const user_row* u = d.user(id);
        return u != nullptr && u->password_hash.has_value();
    };
    for (const std::uint64_t m : admins->members) {
        if (can_log_in(m)) return true;
        if (d.group(m) != nullptr)
            for (const std::uint64_t user : d.members_of(m))
                if (can_log_in(user)) return true;
    }
    return false;
}

/// The users whose privileges an edit may have changed: those it touched, and the members
/// of the groups it touched, before and after it. Nobody else's can have changed, so the
/// check costs what the edit changes, not what the directory holds.
std::vector<std::uint64_t> affected_users(const directory& before, const directory& after) {
    std::vector<std::uint64_t> out;
    for (const std::uint64_t id : after.touched) {
        if (before.group(id) != nullptr || after.group(id) != nullptr) {
            for (const directory* d : {&before, &after}) {
                const auto members = d->members_of(id);
                out.insert(out.end(), members.begin(), members.end());
            }
        } else {
            out.push_back(id);
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace

void request_context::audit(const char* event, nlohmann::json fields) const {
    nlohmann::json actor = {{"auth_id", std::to_string(who.auth_id)}};
    if (const user_row* u = dir ? dir->user(who.auth_id) : nullptr) actor["name"] = u->name;
    if (who.kind == credential_kind::access_token) actor["token_id"] = to_string(who.token);
    svc.audit.write(event, {{"actor", actor}, {"target", fields}, {"client", client}, {"outcome", "success"}});
    fields["by"] = std::to_string(who.auth_id);
    svc.log.write(event, std::move(fields));
}

privilege_set request_context::caller_privileges() const {
    return svc.db.scopes().restrict(dir->privileges_of(who.auth_id), who.scope);
}

void request_context::require(privilege p) const {
    if (!caller_privileges().contains(p))
        throw api_error{403, "privilege_required_error", std::string(to_string(p)) + " is required for this request"};
}

store& request_context::write(const write_effect& effect) const {
    privilege_set needed = effect.acts_as;
    if (effect.edit) {
        directory after = *dir;  // shares the maps: the edit copies what it changes
        after.touched.clear();
        effect.edit(after);
        bool administrator_lost = false;
        // Given or taken away: both act on privileges, so both need them held.
        for (const std::uint64_t id : affected_users(*dir, after)) {
            const privilege_set before = dir->privileges_of(id), now = after.privileges_of(id);
            needed |= (now - before) | (before - now);
            administrator_lost |= is_administrator(*dir, id) && !is_administrator(after, id);
        }
        if (administrator_lost && !any_administrator(after))
            throw bad_request(std::string(effect.what) + " would leave no administrator: at least one user with a "
                              "password must hold the Administrators role");
    }
    if (svc.policy.delegation == delegation_mode::contained && !needed.empty()) {
        const privilege_set missing = needed - caller_privileges();
        if (!missing.empty()) throw escalation(effect.what, missing);
    }
    return svc.writes_;
}

}  // namespace tokenauth::server
