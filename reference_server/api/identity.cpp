// POST /v1/identity/find and /v1/identity/expand; POST /v1/identity/parse (not Qumulo's:
// the web UI's identity grammar is this server's, the one tokenauth::parse_identity has).
#include "router.hpp"

namespace tokenauth::server {

void register_identity(router& r) {
    // Reads nothing but the request: any signed-in caller may ask.
    r.post(R"(/v1/identity/parse/?)", [](request_context& ctx) {
        ctx.reply(identity_to_json(ctx.body(decode_identity_text(ctx.req.body))));
    });

    r.post(R"(/v1/identity/find/?)", [](request_context& ctx) {
        ctx.require(privilege::identity_read);
        const api_identity id = ctx.body(decode_identity(ctx.req.body));
        ctx.reply(identity_to_json(ctx.dir->identity_of(ctx.resolve(id).auth_id)));
    });

    r.post(R"(/v1/identity/expand/?)", [](request_context& ctx) {
        ctx.require(privilege::identity_read);
        const api_identity id = ctx.body(decode_identity_expand(ctx.req.body));
        const resolved found = ctx.resolve(id);
        const api_identity full = ctx.dir->identity_of(found.auth_id);
        nlohmann::json nfs_id = nullptr;
        if (full.uid || full.gid) {
            api_identity posix;
            posix.domain = full.uid ? identity_domain::posix_user : identity_domain::posix_group;
            posix.uid = full.uid;
            posix.gid = full.gid;
            nfs_id = identity_to_json(posix);
        }
        nlohmann::json groups = nlohmann::json::array();
        if (found.type == principal_type::user)
            for (std::uint64_t g : ctx.dir->groups_of(found.auth_id)) groups.push_back(identity_to_json(ctx.dir->identity_of(g)));
        ctx.reply({{"id", identity_to_json(full)},
                   {"type", found.type == principal_type::user ? "USER" : "GROUP"},
                   {"smb_id", identity_to_json(full)},
                   {"nfs_id", nfs_id},
                   {"equivalent_ids", nlohmann::json::array()},
                   {"group_ids", std::move(groups)}});
    });
}

}  // namespace tokenauth::server
