// /v1/users/ and /v1/groups/ with members, setpassword and sessions/end.
#include <algorithm>

#include "listing.hpp"
#include "router.hpp"

namespace tokenauth::server {
namespace {

const user_row& path_user(const request_context& ctx) {
    const std::uint64_t id = parse_path_id(ctx.capture(1), "user");
    const user_row* u = ctx.dir->user(id);
    if (u == nullptr) throw not_found("no user with id " + std::to_string(id));
    return *u;
}

const group_row& path_group(const request_context& ctx) {
    const std::uint64_t id = parse_path_id(ctx.capture(1), "group");
    const group_row* g = ctx.dir->group(id);
    if (g == nullptr) throw not_found("no group with id " + std::to_string(id));
    return *g;
}

std::uint64_t existing_group(const directory& d, std::optional<std::uint64_t> id) {
    const std::uint64_t g = id.value_or(users_group_id);
    if (d.group(g) == nullptr) throw bad_request("primary_group " + std::to_string(g) + " is not a group");
    return g;
}

void check_id_matches(const std::optional<std::string>& body_id, std::uint64_t path_id) {
    if (body_id && !body_id->empty() && *body_id != std::to_string(path_id))
        throw bad_request("'id' in the body does not match the id in the path");
}

nlohmann::json groups_json(const directory& d, const std::vector<std::uint64_t>& ids) {
    nlohmann::json out = nlohmann::json::array();
    for (std::uint64_t id : ids)
        if (const group_row* g = d.group(id)) out.push_back(group_json(d, *g));
    return out;
}

}  // namespace

void register_users_and_groups(router& r) {
    r.get(R"(/v1/users/?)", [](request_context& ctx) {
        ctx.require(privilege::local_user_read);
        ctx.reply(directory_list(ctx, "/v1/users/", ctx.dir->users, [&](const user_row& u) { return user_json(*ctx.dir, u); }));
    });

    r.post(R"(/v1/users/?)", [](request_context& ctx) {
        ctx.require(privilege::local_user_write);
        user_body b = ctx.body(decode_user(ctx.req.body, false));
        user_row u;
        u.name = b.name;
        u.primary_group = existing_group(*ctx.dir, b.primary_group);
        u.uid = b.uid;
        u.home_directory = b.home_directory;
        store& db = ctx.write({"creating a user in this primary group", {}, [&](directory& after) {
                                   user_row created = u;
                                   created.auth_id = ~std::uint64_t{0};
                                   after.put_user(std::move(created), names::key(u.name));
                               }});
        if (b.password) u.password_hash = ctx.hash_password(*b.password);
        u = db.create_user(std::move(u));
        ctx.audit("user_created", {{"auth_id", std::to_string(u.auth_id)}});
        ctx.reply(user_json(*ctx.dir, u));
    });

    r.get(R"(/v1/users/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::local_user_read);
        ctx.reply(user_json(*ctx.dir, path_user(ctx)));
    });

    r.put(R"(/v1/users/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::local_user_write);
        user_row u = path_user(ctx);
        user_body b = ctx.body(decode_user(ctx.req.body, true));
        check_id_matches(b.id, u.auth_id);
        const bool renamed = b.name != u.name;
        u.name = b.name;
        u.primary_group = existing_group(*ctx.dir, b.primary_group);
        u.uid = b.uid;
        u.home_directory = b.home_directory;
        const bool password_changed = b.password.has_value();
        // A new password or name lets someone log in as the user (or take the old name for
        // a user of their own): the caller must hold what the user holds.
        write_effect effect{"changing this user", {}, [&](directory& after) { after.put_user(u, names::key(u.name)); }};
        if (password_changed || renamed) {
            effect.what = password_changed ? "setting this user's password" : "renaming this user";
            effect.acts_as = ctx.dir->privileges_of(u.auth_id);
        }
        store& db = ctx.write(effect);
        if (password_changed) u.password_hash = ctx.hash_password(*b.password);
        u = db.update_user(u, password_changed);
        ctx.audit("user_modified", {{"auth_id", std::to_string(u.auth_id)}, {"password_changed", password_changed}});
        ctx.reply(user_json(*ctx.dir, u));
    });

    r.del(R"(/v1/users/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::local_user_write);
        const user_row& u = path_user(ctx);
        if (u.auth_id == admin_auth_id || u.auth_id == guest_auth_id)
            throw bad_request("the built-in users admin and guest cannot be deleted");
        ctx.write({"deleting this user", {}, [&](directory& after) { after.erase_principal(u.auth_id); }})
            .delete_user(u.auth_id);
        ctx.audit("user_deleted", {{"auth_id", std::to_string(u.auth_id)}});
        ctx.reply_empty();
    });

    r.get(R"(/v1/users/([^/]+)/groups/?)", [](request_context& ctx) {
        // One's own groups are readable; anyone else's need the privilege, checked before
        // the id is looked up so that 403 and 404 do not tell which ids exist.
        if (ctx.capture(1) != std::to_string(ctx.who.auth_id)) ctx.require(privilege::local_user_read);
        const user_row& u = path_user(ctx);
        ctx.reply(groups_json(*ctx.dir, ctx.dir->groups_of(u.auth_id)));
    });

    r.post(R"(/v1/users/([^/]+)/setpassword/?)", [](request_context& ctx) {
        ctx.require(privilege::local_user_write);
        const user_row& u = path_user(ctx);
        const std::string pw = ctx.body(decode_set_password(ctx.req.body));
        if (u.auth_id == guest_auth_id) throw bad_request("the guest user cannot have a password");
        store& db = ctx.write({"setting this user's password", ctx.dir->privileges_of(u.auth_id), {}});
        const user_row changed = db.set_password(u.auth_id, ctx.hash_password(pw));
        ctx.audit("password_set", {{"auth_id", std::to_string(u.auth_id)}});
        ctx.reply(user_json(*ctx.dir, changed));
    });

    // Ends every session of the user (its generation moves on); access tokens are not
    // sessions and keep working. Not Qumulo's: ASVS 5.0's session termination.
    r.post(R"(/v1/users/([^/]+)/sessions/end/?)", [](request_context& ctx) {
        ctx.require(privilege::local_user_write);
        const user_row& u = path_user(ctx);
        // As for a password: only a caller holding what the user holds manages its sessions.
        store& db = ctx.write({"ending this user's sessions", ctx.dir->privileges_of(u.auth_id), {}});
        db.update_user(u, /*password_changed (ends the sessions)=*/true);
        ctx.audit("sessions_ended", {{"auth_id", std::to_string(u.auth_id)}});
        ctx.reply_empty();
    });

    // --- groups ---
    r.get(R"(/v1/groups/?)", [](request_context& ctx) {
        ctx.require(privilege::local_group_read);
        ctx.reply(directory_list(ctx, "/v1/groups/", ctx.dir->groups, [&](const group_row& g) { return group_json(*ctx.dir, g); }));
    });

    r.post(R"(/v1/groups/?)", [](request_context& ctx) {
        ctx.require(privilege::local_group_write);
        const group_body b = ctx.body(decode_group(ctx.req.body, false));
        const group_row g = ctx.write({"creating a group", {}, {}}).create_group({0, b.name, b.gid});
        ctx.audit("group_created", {{"auth_id", std::to_string(g.auth_id)}});
        ctx.reply(group_json(*ctx.dir, g));
    });

    r.get(R"(/v1/groups/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::local_group_read);
        ctx.reply(group_json(*ctx.dir, path_group(ctx)));
    });

    r.put(R"(/v1/groups/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::local_group_write);
        group_row g = path_group(ctx);
        const group_body b = ctx.body(decode_group(ctx.req.body, true));
        check_id_matches(b.id, g.auth_id);
        // A renamed group's old name can be taken by a new group: the caller must hold what
        // the group's roles give.
        write_effect effect{"changing this group", {}, {}};
        if (b.name != g.name) {
            effect.what = "renaming this group";
            effect.acts_as = effective_privileges(ctx.dir->roles, 0, std::vector<std::uint64_t>{g.auth_id});
        }
        g.name = b.name;
        g.gid = b.gid;
        g = ctx.write(effect).update_group(g);
        ctx.audit("group_modified", {{"auth_id", std::to_string(g.auth_id)}});
        ctx.reply(group_json(*ctx.dir, g));
    });

    r.del(R"(/v1/groups/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::local_group_write);
        const group_row& g = path_group(ctx);
        if (g.auth_id == users_group_id || g.auth_id == guests_group_id)
            throw bad_request("the built-in groups Users and Guests cannot be deleted");
        ctx.write({"deleting this group", {}, [&](directory& after) {
                       after.erase_principal(g.auth_id);
                   }})
            .delete_group(g.auth_id);
        ctx.audit("group_deleted", {{"auth_id", std::to_string(g.auth_id)}});
        ctx.reply_empty();
    });

    r.get(R"(/v1/groups/([^/]+)/members/?)", [](request_context& ctx) {
        ctx.require(privilege::local_group_read);
        const group_row& g = path_group(ctx);
        nlohmann::json out = nlohmann::json::array();
        for (std::uint64_t m : ctx.dir->members_of(g.auth_id))
            if (const user_row* u = ctx.dir->user(m)) out.push_back(user_json(*ctx.dir, *u));
        ctx.reply(out);
    });

    r.post(R"(/v1/groups/([^/]+)/members/?)", [](request_context& ctx) {
        ctx.require(privilege::local_group_write);
        const group_row& g = path_group(ctx);
        const std::uint64_t member = ctx.body(decode_group_member(ctx.req.body));
        const user_row* u = ctx.dir->user(member);
        if (u == nullptr) throw not_found("no user with id " + std::to_string(member) + " (members are users)");
        ctx.write({"adding a member to this group", {}, [&](directory& after) {
                       after.add_group_member(g.auth_id, member);
                   }})
            .add_group_member(g.auth_id, member);
        ctx.audit("group_member_added",
                  {{"group", std::to_string(g.auth_id)}, {"member", std::to_string(member)}});
        ctx.reply(user_json(*ctx.dir, *u));
    });

    r.del(R"(/v1/groups/([^/]+)/members/([^/]+))", [](request_context& ctx) {
        ctx.require(privilege::local_group_write);
        const group_row& g = path_group(ctx);
        const std::uint64_t member = parse_path_id(ctx.capture(2), "member");
        if (!ctx.dir->is_explicit_member(g.auth_id, member))
            throw not_found("user " + std::to_string(member) + " is not an explicit member of group " + g.name);
        ctx.write({"removing this member", {}, [&](directory& after) {
                       after.remove_group_member(g.auth_id, member);
                   }})
            .remove_group_member(g.auth_id, member);
        ctx.audit("group_member_removed",
                  {{"group", std::to_string(g.auth_id)}, {"member", std::to_string(member)}});
        ctx.reply_empty();
    });
}

}  // namespace tokenauth::server
