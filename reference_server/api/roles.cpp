// /v1/auth/roles/ with members, and /v1/auth/privileges/.
#include "listing.hpp"
#include "router.hpp"
#include "../text.hpp"

namespace tokenauth::server {
namespace {

nlohmann::json role_json(const tokenauth::role& r) {
    nlohmann::json privileges = nlohmann::json::array();
    for (privilege p : r.privileges.to_vector()) privileges.push_back(to_string(p));
    return {{"name", r.name}, {"description", r.description}, {"privileges", std::move(privileges)}};
}

const tokenauth::role& path_role(const request_context& ctx) {
    const std::string name = ctx.capture(1);
    const tokenauth::role* r = ctx.dir->role(name);
    if (r == nullptr) throw not_found("no role named '" + name.substr(0, 128) + "'");
    return *r;
}

bool is_builtin(const std::string& name) { return text::iequals(name, "Administrators") || text::iequals(name, "Observers"); }

/// Applies a PUT (complete) or PATCH (partial) body to a role and stores it.
void modify_role(request_context& ctx, bool partial) {
    ctx.require(privilege::role_write);
    const tokenauth::role& old = path_role(ctx);
    const role_body b = ctx.body(decode_role(ctx.req.body, partial));
    if (text::iequals(old.name, "Administrators"))
        throw bad_request("the built-in role Administrators cannot be modified");
    tokenauth::role updated = old;
    if (b.name) updated.name = *b.name;
    if (b.description) updated.description = *b.description;
    if (b.privileges) updated.privileges = *b.privileges;
    // A renamed role's old name can be taken by a new role: the caller must hold what the
    // role gives.
    const bool renamed = updated.name != old.name;
    ctx.write({renamed ? "renaming this role" : "changing this role", renamed ? old.privileges : privilege_set{},
               [&](directory& after) {
                   after.put_role(old.name, updated, names::key(updated.name));
               }})
        .update_role(old.name, updated);
    ctx.audit("role_modified", {{"role", updated.name}});
    ctx.reply(role_json(updated));
}

}  // namespace

void register_roles(router& r) {
    r.get(R"(/v1/auth/privileges/?)", [](request_context& ctx) {
        ctx.require(privilege::role_read);
        nlohmann::json out = nlohmann::json::object();
        for (std::size_t i = 0; i < privilege_count; ++i) {
            const auto p = static_cast<privilege>(i);
            out[std::string(to_string(p))] = privilege_description(p);
        }
        ctx.reply(out);
    });

    r.get(R"(/v1/auth/roles/?)", [](request_context& ctx) {
        ctx.require(privilege::role_read);
        nlohmann::json out = nlohmann::json::object();
        list_query q = list_query::from(ctx);
        q.by_name = true;  // roles have no id: they are always in name order, the cursor a name
        if (!q.active) {
            for (const auto& role : ctx.dir->roles) out[role.name] = role_json(role);
        } else {
            std::vector<const tokenauth::role*> all;
            for (const auto& role : ctx.dir->roles) all.push_back(&role);
            const auto index = [&](const tokenauth::role& x) { return static_cast<std::uint64_t>(&x - ctx.dir->roles.data()); };
            for (const tokenauth::role* role : select_page(ctx, "/v1/auth/roles/", q, std::move(all), index,
                                                           [](const tokenauth::role& x) -> const std::string& { return x.name; }))
                out[role->name] = role_json(*role);
        }
        ctx.reply(out);
    });

    r.post(R"(/v1/auth/roles/?)", [](request_context& ctx) {
        ctx.require(privilege::role_write);
        const role_body b = ctx.body(decode_role(ctx.req.body, false));
        const tokenauth::role role{*b.name, *b.description, *b.privileges, {}};
        ctx.write({"creating a role", {}, {}}).create_role(role);
        ctx.audit("role_created", {{"role", role.name}});
        ctx.reply(role_json(role));
    });

    r.get(R"(/v1/auth/roles/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::role_read);
        ctx.reply(role_json(path_role(ctx)));
    });
    r.put(R"(/v1/auth/roles/([^/]+))", [](request_context& ctx) { modify_role(ctx, false); });
    r.patch(R"(/v1/auth/roles/([^/]+))", [](request_context& ctx) { modify_role(ctx, true); });

    r.del(R"(/v1/auth/roles/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::role_write);
        const tokenauth::role& role = path_role(ctx);
        if (is_builtin(role.name))
            throw bad_request("the built-in roles Administrators and Observers cannot be deleted");
        ctx.write({"deleting this role", {}, [&](directory& after) {
                       after.erase_role(role.name);
                   }})
            .delete_role(role.name);
        ctx.audit("role_deleted", {{"role", role.name}});
        ctx.reply_empty();
    });

    r.get(R"(/v1/auth/roles/([^/]+)/members/?)", [](request_context& ctx) {
        ctx.require(privilege::role_read);
        const tokenauth::role& role = path_role(ctx);
        const std::uint64_t after = ctx.query_uint("after", 0, 0, UINT64_MAX);  // an auth_id
        const std::uint64_t limit = ctx.query_uint("limit", 0, 1, 100000);
        nlohmann::json members = nlohmann::json::object();
        std::size_t n = 0;
        std::uint64_t last = 0;
        nlohmann::json next = nullptr;
        for (std::uint64_t m : role.members) {
            if (m <= after) continue;
            if (limit != 0 && n == limit) {
                next = paging_link("/v1/auth/roles/" + text::percent_encode(role.name) + "/members?", limit, last);
                break;
            }
            members[std::to_string(m)] = identity_to_json(ctx.dir->identity_of(m));
            last = m;
            ++n;
        }
        ctx.reply({{"members", std::move(members)}, {"paging", {{"next", next}}}});
    });

    r.post(R"(/v1/auth/roles/([^/]+)/members/?)", [](request_context& ctx) {
        ctx.require(privilege::role_write);
        const tokenauth::role& role = path_role(ctx);
        const api_identity id = ctx.body(decode_identity(ctx.req.body));
        const resolved who = ctx.resolve(id);
        ctx.write({"adding a member to this role", {}, [&](directory& after) {
                       after.add_role_member(role.name, who.auth_id);
                   }})
            .add_role_member(role.name, who.auth_id);
        ctx.audit("role_member_added", {{"role", role.name}, {"member", std::to_string(who.auth_id)}});
        ctx.reply(identity_to_json(ctx.dir->identity_of(who.auth_id)));
    });

    r.get(R"(/v1/auth/roles/([^/]+)/members/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::role_read);
        const tokenauth::role& role = path_role(ctx);
        const std::uint64_t member = parse_path_id(ctx.capture(2), "member");
        if (!role.has_member(member)) throw not_found(std::to_string(member) + " is not a member of role " + role.name);
        ctx.reply(identity_to_json(ctx.dir->identity_of(member)));
    });

    r.del(R"(/v1/auth/roles/([^/]+)/members/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::role_write);
        const tokenauth::role& role = path_role(ctx);
        const std::uint64_t member = parse_path_id(ctx.capture(2), "member");
        if (!role.has_member(member)) throw not_found(std::to_string(member) + " is not a member of role " + role.name);
        ctx.write({"removing this member", {}, [&](directory& after) {
                       after.remove_role_member(role.name, member);
                   }})
            .remove_role_member(role.name, member);
        ctx.audit("role_member_removed", {{"role", role.name}, {"member", std::to_string(member)}});
        ctx.reply_empty();
    });
}

}  // namespace tokenauth::server
