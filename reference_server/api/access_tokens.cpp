// /v1/auth/access-tokens/ : create, list, get, modify, delete.
#include <tokenauth/token.hpp>

#include <algorithm>
#include <chrono>

#include "router.hpp"
#include "../text.hpp"

namespace tokenauth::server {
namespace {

/// The newer of the saved last use and this process's own.
std::optional<timestamp> last_used(const request_context& ctx, const token_row& t) {
    const timestamp mine = ctx.svc.db.last_used(t.id);
    if (mine == 0) return t.last_used_time;
    return std::max(mine, t.last_used_time.value_or(0));
}

nlohmann::json optional_time(const std::optional<timestamp>& t) {
    return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

nlohmann::json optional_text(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); }

nlohmann::json privilege_names(const privilege_set& s) {
    nlohmann::json out = nlohmann::json::array();
    for (privilege p : s.to_vector()) out.push_back(privilege_name(p));
    return out;
}

nlohmann::json token_json(const request_context& ctx, const token_row& t) {
    const directory& d = *ctx.dir;
    return {{"id", to_string(t.id)},
            {"user", identity_to_json(d.identity_of(t.user))},
            {"creator", identity_to_json(d.identity_of(t.creator))},
            {"creation_time", format_rfc3339(t.creation_time)},
            {"expiration_time", optional_time(t.expiration_time)},
            {"enabled", t.enabled},
            // Additions to the spec's shape:
            {"privileges", t.privileges ? privilege_names(*t.privileges) : nlohmann::json(nullptr)},
            {"last_used_time", optional_time(last_used(ctx, t))},
            {"name", optional_text(t.name)}};
}

/// The lifetime policy: 400 when an expiration lies beyond creation + the maximum.
void check_lifetime(const request_context& ctx, timestamp created, const std::optional<timestamp>& expiration) {
    const timestamp max = ctx.svc.policy.max_token_lifetime;
    if (max == 0) return;
    const std::string limit = "the maximum token lifetime is " + std::to_string(max / 86'400'000'000'000) + "d " +
                              std::to_string(max / 1'000'000'000 % 86'400) + "s (until " + format_rfc3339(created + max) +
                              " for this token)";
    if (!expiration) throw bad_request("a token must expire: " + limit);
    if (*expiration > created + max) throw bad_request("expiration_time is too late: " + limit);
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

/// What a modification makes usable again: the token's effective privileges (its scope
/// within its user's) when it enables a disabled token or moves the expiry later (or
/// removes it); nothing when it only disables or shortens.
privilege_set revived_privileges(const request_context& ctx, const token_row& t, const token_modify_body& b) {
    const bool enables = b.enabled.value_or(false) && !t.enabled;
    bool extends = false;
    if (b.expiration && t.expiration_time) extends = !*b.expiration || **b.expiration > *t.expiration_time;
    if (!enables && !extends) return {};
    const privilege_set held = ctx.dir->privileges_of(t.user);
    return t.privileges ? held & *t.privileges : held;
}

}  // namespace

void register_access_tokens(router& r) {
    const std::string collection = R"(/v1/auth/access-tokens/?)";
    const std::string item = R"(/v1/auth/access-tokens/([^/]+))";

    // Reporting exposed tokens: no authentication (whoever found a token may report it). A
    // token is disabled only when it verifies in full, id and secret, as authentication
    // would; the answer is the same whatever the tokens were.
    r.post(R"(/v1/auth/access-tokens/revoke)", [](request_context& ctx) {
        const auto now = std::chrono::steady_clock::now();
        failure_throttle& quota = ctx.svc.abuse.revokes;
        if (const auto wait = quota.blocked_for(ctx.client, now))
            throw api_error{429, "too_many_requests_error",
                            "too many revocation requests from this address; try again in " + std::to_string(wait) + " s",
                            static_cast<int>(wait)};
        quota.failure(ctx.client, now);  // every request counts against the hourly quota
        const std::vector<std::string> credentials = ctx.body(decode_revoke(ctx.req.body));
        for (const std::string& c : credentials) {
            const auto token = parse_access_token(c);
            if (!token) continue;
            token_record rec;
            if (ctx.svc.db.tokens().verify(*token, rec) != lookup_result::found) continue;
            // Disabling takes access away: no privilege is needed (the caller is nobody).
            if (rec.enabled) {
                token_change disable;
                disable.enabled = false;
                ctx.write({"disabling a reported token", {}, {}}).modify_token(token->id, disable);
            }
            ctx.svc.audit.write("token_reported_exposed",
                                {{"actor", nullptr},
                                 {"target", {{"token_id", to_string(token->id)}, {"user", std::to_string(rec.user_auth_id)}}},
                                 {"client", ctx.client},
                                 {"outcome", rec.enabled ? "disabled" : "already disabled"}});
            ctx.svc.log.write("token_reported_exposed", {{"token_id", to_string(token->id)}, {"remote_addr", ctx.client}});
        }
        ctx.reply({{"received", credentials.size()}}, 202);
    }, auth::none);

    r.post(collection, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_write);
        const token_create_body b = ctx.body(decode_token_create(ctx.req.body));
        const std::uint64_t user = resolve_user(ctx, b.user);
        const privilege_set held = ctx.dir->privileges_of(user);
        if (b.privileges) {
            const privilege_set extra = *b.privileges - held;
            if (!extra.empty()) {
                std::string names;
                for (privilege p : extra.to_vector()) names += (names.empty() ? "" : ", ") + std::string(privilege_name(p));
                throw bad_request("'privileges' names privileges the user does not hold: " + names);
            }
        }
        const timestamp now = ctx.svc.clock.now();
        std::optional<timestamp> expiration = b.expiration;
        if (ctx.svc.policy.max_token_lifetime != 0 && !expiration) expiration = now + ctx.svc.policy.max_token_lifetime;
        check_lifetime(ctx, now, expiration);
        // Acting as the user: the caller must hold what the token could do.
        store& db = ctx.write({"creating an access token for this user", b.privileges.value_or(held), {}});
        const created_token created = db.create_token(user, ctx.who.auth_id, expiration, now, b.privileges, b.name);
        const token_row& row = created.row;
        ctx.audit("token_created", {{"token_id", to_string(row.id)},
                                    {"user", std::to_string(user)},
                                    {"expiration_time", expiration_text(row.expiration_time)},
                                    {"name", optional_text(row.name)},
                                    {"privileges", row.privileges ? privilege_names(*row.privileges) : nlohmann::json(nullptr)}});
        // The only response that ever carries the bearer token; the copy the JSON value held
        // is wiped once the body is written.
        nlohmann::json body{{"id", to_string(row.id)}, {"bearer_token", created.bearer.str()}};
        ctx.reply(body);
        secret_text(std::move(body["bearer_token"].get_ref<std::string&>())).clear();
    });

    r.get(collection, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_read);
        std::optional<std::uint64_t> user;
        std::string user_param;
        if (ctx.req.has_param("user")) {
            user_param = ctx.req.get_param_value("user");
            const auto id = parse_identity(user_param, identity_whitespace::keep);
            if (!id) throw bad_request(std::string("query parameter 'user': ") + id.detail());
            user = ctx.resolve(*id).auth_id;
        }
        std::optional<timestamp> unused_since;
        std::string unused_param;
        if (ctx.req.has_param("unused_since")) {
            unused_param = ctx.req.get_param_value("unused_since");
            const auto t = parse_rfc3339(unused_param);
            if (!t) throw bad_request("query parameter 'unused_since' must be an RFC 3339 time");
            unused_since = *t;
        }
        const std::uint64_t limit = ctx.query_uint("limit", 0, 1, 100000);
        const auto after = static_cast<std::int64_t>(ctx.query_uint("after", 0, 0, INT64_MAX));
        bool more = false;
        std::vector<token_row> rows;
        if (!unused_since) {
            rows = ctx.svc.db.list_tokens(user, after, static_cast<std::size_t>(limit), more);
        } else {
            // Not used since the time: last used before it, or never used and created before it.
            for (auto& t : ctx.svc.db.list_tokens(user, after, 0, more)) {
                const auto used = last_used(ctx, t);
                if (used ? *used >= *unused_since : t.creation_time >= *unused_since) continue;
                if (limit != 0 && rows.size() == limit) {
                    more = true;
                    break;
                }
                rows.push_back(std::move(t));
            }
        }
        nlohmann::json entries = nlohmann::json::array();
        for (const auto& t : rows) entries.push_back(token_json(ctx, t));
        nlohmann::json next = nullptr;
        if (more) {
            std::string path = "/v1/auth/access-tokens/?";
            if (user) path += "user=" + text::percent_encode(user_param) + "&";
            if (unused_since) path += "unused_since=" + text::percent_encode(unused_param) + "&";
            next = paging_link(std::move(path), limit, static_cast<std::uint64_t>(rows.back().seq));
        }
        ctx.reply({{"entries", std::move(entries)}, {"paging", {{"next", next}}}});
    });

    r.get(item, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_read);
        const token_id id = path_token_id(ctx);
        const auto row = ctx.svc.db.get_token(id);
        if (!row) throw not_found("no access token with id " + to_string(id));
        ctx.reply(token_json(ctx, *row));
    });

    r.patch(item, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_write);
        const token_id id = path_token_id(ctx);
        const token_modify_body b = ctx.body(decode_token_modify(ctx.req.body));
        const auto current = ctx.svc.db.get_token(id);
        if (!current) throw not_found("no access token with id " + to_string(id));
        if (b.expiration && ctx.svc.policy.max_token_lifetime != 0) check_lifetime(ctx, current->creation_time, *b.expiration);
        const auto row = ctx.write({"modifying this access token", revived_privileges(ctx, *current, b), {}})
                             .modify_token(id, token_change{b.expiration, b.enabled, b.name});
        if (!row) throw not_found("no access token with id " + to_string(id));
        ctx.audit("token_modified", {{"token_id", to_string(id)},
                                     {"enabled", row->enabled},
                                     {"expiration_time", expiration_text(row->expiration_time)},
                                     {"name", optional_text(row->name)}});
        ctx.reply(token_json(ctx, *row));
    });

    r.del(item, [](request_context& ctx) {
        ctx.require(privilege::access_tokens_write);
        const token_id id = path_token_id(ctx);
        // Deleting takes access away: no privilege is needed.
        if (!ctx.write({"deleting this access token", {}, {}}).delete_token(id))
            throw not_found("no access token with id " + to_string(id));
        ctx.audit("token_deleted", {{"token_id", to_string(id)}});
        ctx.reply_empty();
    });
}

}  // namespace tokenauth::server
