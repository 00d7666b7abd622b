// Authorization beyond "holds privilege P": what a credential may do (its scope), the
// delegation rule that nobody grants or acts with privileges they do not hold, and the rule
// that the last administrator cannot be removed.
#include "router.hpp"
#include "../text.hpp"

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

/// Users who can log in and hold the Administrators role (directly or through a group).
std::size_t administrators(const directory& d) {
    const tokenauth::role* admins = d.role("Administrators");
    if (admins == nullptr) return 0;
    std::size_t n = 0;
    for (const auto& [id, u] : d.users)
        if (u.password_hash && holds_role(*admins, id, d.groups_of(id))) ++n;
    return n;
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
        directory after = *dir;
        effect.edit(after);
        if (administrators(after) == 0 && administrators(*dir) > 0)
            throw bad_request(std::string(effect.what) + " would leave no administrator: at least one user with a "
                              "password must hold the Administrators role");
        // Given or taken away: both act on privileges, so both need them held.
        for (const auto& [id, u] : after.users) {
            const privilege_set before = dir->privileges_of(id), now = after.privileges_of(id);
            needed |= (now - before) | (before - now);
        }
        for (const auto& [id, u] : dir->users)
            if (after.user(id) == nullptr) needed |= dir->privileges_of(id);
    }
    if (svc.policy.delegation == delegation_mode::contained && !needed.empty()) {
        const privilege_set missing = needed - caller_privileges();
        if (!missing.empty()) throw escalation(effect.what, missing);
    }
    return svc.writes_;
}

}  // namespace tokenauth::server
