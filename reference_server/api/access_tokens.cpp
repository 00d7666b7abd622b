// /v1/auth/access-tokens/ : create, list, get, modify, delete.
#include <tokenauth/token.hpp>

#include "router.hpp"
#include "../text.hpp"

namespace tokenauth::server {
namespace {

nlohmann::json token_json(const directory& d, const token_row& t) {
    return {{"id", to_string(t.id)},
            {"user", identity_to_json(d.identity_of(t.user))},
            {"creator", identity_to_json(d.identity_of(t.creator))},
            {"creation_time", format_rfc3339(t.creation_time)},
            {"expiration_time", t.expiration_time ? nlohmann::json(format_rfc3339(*t.expiration_time)) : nlohmann::json(nullptr)},
            {"enabled", t.enabled}};
}

std::string expiration_text(const std::optional<timestamp>& t) { return t ? format_rfc3339(*t) : "never"; }

token_id path_token_id(const request_context& ctx) {
    const auto id = parse_token_id(ctx.capture(1));
    if (!id) throw not_found("no access token with id '" + ctx.capture(1).substr(0, 64) + "'");
    return *id;
}

/// A user (not a group) named by an identity, or 400/404.
std::uint64_t resolve_user(const request_context& ctx, const api_identity& id) {
    const resolved r = ctx.resolve(id);
    if (r.type != principal_type::user)
        throw bad_request("access tokens can only be created for users, not groups");
    return r.auth_id;
}

}  // namespace

void register_access_tokens(router& r) {
    const std::string collection = R"(/v1/auth/access-tokens/?)";
    const std::string item = R"(/v1/auth/access-tokens/([^/]+))";

    r.post(collection, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_write);
        const token_create_body b = ctx.body(decode_token_create(ctx.req.body));
        const std::uint64_t user = resolve_user(ctx, b.user);
        auto [row, bearer] = ctx.svc.db.create_token(user, ctx.who.auth_id, b.expiration, ctx.svc.clock.now());
        ctx.audit("token_created", {{"token_id", to_string(row.id)},
                                    {"user", std::to_string(user)},
                                    {"expiration_time", expiration_text(row.expiration_time)}});
        // The only response that ever carries the bearer token.
        ctx.reply({{"id", to_string(row.id)}, {"bearer_token", std::move(bearer)}});
    });

    r.get(collection, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_read);
        std::optional<std::uint64_t> user;
        std::string user_param;
        if (ctx.req.has_param("user")) {
            user_param = ctx.req.get_param_value("user");
            const auto id = parse_identity(user_param);
            if (!id) throw bad_request(std::string("query parameter 'user': ") + id.detail());
            user = ctx.resolve(*id).auth_id;
        }
        const std::uint64_t limit = ctx.query_uint("limit", 0, 1, 100000);
        const auto after = static_cast<std::int64_t>(ctx.query_uint("after", 0, 0, INT64_MAX));
        bool more = false;
        const auto rows = ctx.svc.db.list_tokens(user, after, static_cast<std::size_t>(limit), more);
        nlohmann::json entries = nlohmann::json::array();
        for (const auto& t : rows) entries.push_back(token_json(*ctx.dir, t));
        nlohmann::json next = nullptr;
        if (more) {
            std::string path = "/v1/auth/access-tokens/?";
            if (user) path += "user=" + text::percent_encode(user_param) + "&";
            next = paging_link(std::move(path), limit, static_cast<std::uint64_t>(rows.back().seq));
        }
        ctx.reply({{"entries", std::move(entries)}, {"paging", {{"next", next}}}});
    });

    r.get(item, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_read);
        const token_id id = path_token_id(ctx);
        const auto row = ctx.svc.db.get_token(id);
        if (!row) throw not_found("no access token with id " + to_string(id));
        ctx.reply(token_json(*ctx.dir, *row));
    });

    r.patch(item, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_write);
        const token_id id = path_token_id(ctx);
        const token_modify_body b = ctx.body(decode_token_modify(ctx.req.body));
        const auto row = ctx.svc.db.modify_token(id, b.expiration, b.enabled);
        if (!row) throw not_found("no access token with id " + to_string(id));
        ctx.audit("token_modified", {{"token_id", to_string(id)},
                                     {"enabled", row->enabled},
                                     {"expiration_time", expiration_text(row->expiration_time)}});
        ctx.reply(token_json(*ctx.dir, *row));
    });

    r.del(item, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_write);
        const token_id id = path_token_id(ctx);
        if (!ctx.svc.db.delete_token(id)) throw not_found("no access token with id " + to_string(id));
        ctx.audit("token_deleted", {{"token_id", to_string(id)}});
        ctx.reply_empty();
    });
}

}  // namespace tokenauth::server
