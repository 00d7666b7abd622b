// /v1/auth/access-tokens/ : create, list, get, modify, delete.
#include <tokenauth/token.hpp>

#include <algorithm>
#include <chrono>

#include "router.hpp"
#include "../names.hpp"
#include "../text.hpp"

namespace tokenauth::server {
namespace {

/// The newer of the saved last use and this process's own.
std::optional<timestamp> last_used(const store_reader& db, const token_row& t) {
    const timestamp mine = db.last_used(t.id);
    if (mine == 0) return t.last_used_time;
    return std::max(mine, t.last_used_time.value_or(0));
}

nlohmann::json optional_time(const std::optional<timestamp>& t) {
    return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

nlohmann::json optional_text(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); }

/// Stored bounds as the API shows them: a list of prefixes, or null for any address.
nlohmann::json cidr_list(const std::optional<std::string>& stored) {
    if (!stored) return nullptr;
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& p : text::split(*stored, ',')) out.push_back(p);
    return out;
}

nlohmann::json privilege_names(const privilege_set& s) {
    nlohmann::json out = nlohmann::json::array();
    for (privilege p : s.to_vector()) out.push_back(privilege_name(p));
    return out;
}

/// A token as the API shows it, from a directory snapshot and the store (its last use).
nlohmann::json token_json(const directory& d, const store_reader& db, const token_row& t) {
    return {{"id", to_string(t.id)},
            {"user", identity_to_json(d.identity_of(t.user))},
            {"creator", identity_to_json(d.identity_of(t.creator))},
            {"creation_time", format_rfc3339(t.creation_time)},
            {"expiration_time", optional_time(t.expiration_time)},
            {"enabled", t.enabled},
            // Additions to the spec's shape:
            {"privileges", t.privileges ? privilege_names(*t.privileges) : nlohmann::json(nullptr)},
            {"last_used_time", optional_time(last_used(db, t))},
            {"name", optional_text(t.name)},
            {"allowed_cidrs", cidr_list(t.allowed_cidrs)},
            {"rotated_to", t.rotated_to ? nlohmann::json(to_string(*t.rotated_to)) : nlohmann::json(nullptr)},
            {"rotated_time", optional_time(t.rotated_time)}};
}

nlohmann::json token_json(const request_context& ctx, const token_row& t) { return token_json(*ctx.dir, ctx.svc.db, t); }

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

/// 409 for rotating a token that was already rotated. From its holder (the secret verified)
/// it means two parties hold it (refresh-token reuse, RFC 9700 4.14.2): every live token of
/// its family is disabled, the successor too, and an administrator issues a new one.
[[noreturn]] void already_rotated(request_context& ctx, const token_row& t, bool holder) {
    const std::string successor = to_string(*t.rotated_to);
    if (!holder)
        throw api_error{409, "access_token_rotated_error",
                        "access token " + to_string(t.id) + " was already rotated; its successor is " + successor};
    const std::vector<token_id> disabled =
        ctx.write({"disabling a reused token's family", {}, {}}).disable_family(t.id);
    nlohmann::json ids = nlohmann::json::array();
    for (const token_id& id : disabled) ids.push_back(to_string(id));
    ctx.svc.audit.write("token_reuse_detected",
                        {{"actor", nullptr},
                         {"target", {{"token_id", to_string(t.id)},
                                     {"successor", successor},
                                     {"user", std::to_string(t.user)},
                                     {"disabled", ids}}},
                         {"client", ctx.client},
                         {"outcome", "family disabled"}});
    ctx.svc.log.write("token_reuse_detected", {{"token_id", to_string(t.id)}, {"remote_addr", ctx.client}});
    throw api_error{409, "access_token_reused_error",
                    "access token " + to_string(t.id) + " was already rotated (its successor is " + successor +
                        "), so two parties hold it: every token of its family is now disabled; an administrator "
                        "must create a new one"};
}

/// POST /v1/auth/access-tokens/{id}/rotate: a successor with the same user, scope and name,
/// and the predecessor retired (at once, or after grace_seconds), in one transaction.
void rotate(request_context& ctx) {
    const token_id id = path_token_id(ctx);
    // The caller: the token itself (holding its secret is the right to rotate it), or someone
    // with ACCESS_TOKENS_WRITE. Another access token may not rotate it.
    std::string_view bearer;
    const std::string header = ctx.req.get_header_value("Authorization");
    bool holder = false;
    if (tokenauth::validator::split_bearer(header, bearer) == errc::ok)
        if (const auto presented = parse_access_token(bearer)) holder = presented->id == id;
    try {
        authenticate(ctx);
    } catch (const api_error& e) {
        // Disabled or expired is said only once the secret verified: a retired token's holder.
        if (!holder || (e.error_class != "access_token_disabled_error" && e.error_class != "access_token_expired_error"))
            throw;
        const auto row = ctx.svc.db.get_token(id);
        if (!row || !row->rotated_to) throw;
        already_rotated(ctx, *row, true);
    }
    if (!holder) {
        if (ctx.who.kind == credential_kind::access_token)
            throw api_error{403, "privilege_required_error", "an access token may rotate only itself"};
        ctx.require(privilege::access_tokens_write);
    }
    const auto row = ctx.svc.db.get_token(id);
    if (!row) throw not_found("no access token with id " + to_string(id));
    if (row->rotated_to) already_rotated(ctx, *row, holder);
    const token_rotate_body b = ctx.body(decode_token_rotate(ctx.req.body));

    const timestamp now = ctx.svc.clock.now();
    // The successor lives as long as the predecessor was given; a holder may shorten that,
    // never lengthen it (a stolen token must not renew itself for ever).
    std::optional<timestamp> lifetime_default;
    if (row->expiration_time) lifetime_default = now + (*row->expiration_time - row->creation_time);
    std::optional<timestamp> expiration = b.expiration ? *b.expiration : lifetime_default;
    if (holder && lifetime_default && (!expiration || *expiration > *lifetime_default))
        throw bad_request("a token rotating itself may not expire later than its predecessor's lifetime allows (" +
                          format_rfc3339(*lifetime_default) + ")");
    if (ctx.svc.policy.max_token_lifetime != 0 && !expiration) expiration = now + ctx.svc.policy.max_token_lifetime;
    check_lifetime(ctx, now, expiration);
    std::optional<timestamp> grace_until;
    if (b.grace_seconds > 0) {
        grace_until = now + b.grace_seconds * 1'000'000'000;
        if (row->expiration_time) grace_until = std::min(*grace_until, *row->expiration_time);
    }

    // Acting as the user, as a create does: the caller holds what the token can do.
    const privilege_set held = ctx.dir->privileges_of(row->user);
    store& db = ctx.write({"rotating this access token", row->privileges ? held & *row->privileges : held, {}});
    auto rotated = [&] {
        try {
            return db.rotate_token(id, ctx.who.auth_id, {now, expiration, grace_until});
        } catch (const storage_error& e) {
            if (e.which() != storage_error::kind::conflict) throw;
            const auto now_row = ctx.svc.db.get_token(id);  // rotated meanwhile
            if (!now_row || !now_row->rotated_to) throw;
            already_rotated(ctx, *now_row, holder);
        }
    }();
    const token_row& successor = rotated.successor.row;
    ctx.audit("token_rotated", {{"token_id", to_string(id)},
                                {"successor", to_string(successor.id)},
                                {"user", std::to_string(successor.user)},
                                {"expiration_time", expiration_text(successor.expiration_time)},
                                {"predecessor_until", grace_until ? format_rfc3339(*grace_until) : "now"}});
    // As for a create, the only response with the bearer token; its JSON copy is wiped.
    nlohmann::json body{{"id", to_string(successor.id)},
                        {"bearer_token", rotated.successor.bearer.str()},
                        {"expiration_time", optional_time(successor.expiration_time)},
                        {"rotated_from", to_string(id)},
                        {"predecessor_expiration_time", optional_time(rotated.predecessor.expiration_time)},
                        {"predecessor_enabled", rotated.predecessor.enabled}};
    ctx.reply(body);
    secret_text(std::move(body["bearer_token"].get_ref<std::string&>())).clear();
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

    r.post(R"(/v1/auth/access-tokens/([^/]+)/rotate)", rotate, auth::none);

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
        const created_token created =
            db.create_token(user, ctx.who.auth_id, now, token_fields{expiration, b.privileges, b.name, b.allowed_cidrs});
        const token_row& row = created.row;
        ctx.audit("token_created", {{"token_id", to_string(row.id)},
                                    {"user", std::to_string(user)},
                                    {"expiration_time", expiration_text(row.expiration_time)},
                                    {"name", optional_text(row.name)},
                                    {"allowed_cidrs", cidr_list(row.allowed_cidrs)},
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
        // name_prefix: the token's name begins with it (case and Unicode variants alike).
        const std::string name_prefix = ctx.req.get_param_value("name_prefix");
        if (name_prefix.size() > 4 * names::max_label_characters) throw bad_request("query parameter 'name_prefix' is too long");
        const std::string prefix_key = name_prefix.empty() ? std::string() : names::key(name_prefix);
        std::string next_path = "/v1/auth/access-tokens/?";
        if (user) next_path += "user=" + text::percent_encode(user_param) + "&";
        if (unused_since) next_path += "unused_since=" + text::percent_encode(unused_param) + "&";
        if (!name_prefix.empty()) next_path += "name_prefix=" + text::percent_encode(name_prefix) + "&";
        // Streamed (http_response::stream): one entry at a time from a cursor that pins one
        // snapshot of the store, with the directory snapshot of this request, so a list of any
        // size costs the server a piece of it at a time, and a slow reader only time. The
        // bytes are those of the whole body's dump().
        struct listing {
            std::shared_ptr<const directory> dir;
            const store_reader& db;
            std::unique_ptr<store_reader::token_cursor> rows;
            std::string next_path, prefix_key;
            std::optional<timestamp> unused_since;
            std::uint64_t limit = 0, sent = 0;
            std::int64_t last_seq = 0;
            bool wanted(const token_row& t) const {
                if (!prefix_key.empty() && (!t.name || names::key(*t.name).compare(0, prefix_key.size(), prefix_key) != 0))
                    return false;
                // Not used since the time: last used before it, or never used and created before it.
                const auto used = last_used(db, t);
                return !unused_since || (used ? *used < *unused_since : t.creation_time < *unused_since);
            }
        };
        auto list = std::make_shared<listing>(listing{ctx.dir, ctx.svc.db, ctx.svc.db.open_token_cursor(user, after),
                                                      std::move(next_path), prefix_key, unused_since, limit});
        ctx.res.status = 200;
        ctx.res.set_header("Content-Type", "application/json");
        ctx.res.body = "{\"entries\":[";
        ctx.res.stream = [list](std::string& out) {
            token_row t;
            bool found = false;
            while (!found && list->rows->next(t)) found = list->wanted(t);
            if (found && (list->limit == 0 || list->sent < list->limit)) {
                if (list->sent++ != 0) out += ',';
                out += token_json(*list->dir, list->db, t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                list->last_seq = t.seq;
                return true;
            }
            // The end, or one more than the limit: paging names the next page.
            const nlohmann::json next =
                found ? nlohmann::json(paging_link(list->next_path, list->limit, static_cast<std::uint64_t>(list->last_seq)))
                      : nlohmann::json(nullptr);
            out += "],\"paging\":";
            out += nlohmann::json{{"next", next}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            out += '}';
            return false;
        };
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
        if (current->rotated_to) already_rotated(ctx, *current, false);
        if (b.expiration && ctx.svc.policy.max_token_lifetime != 0) check_lifetime(ctx, current->creation_time, *b.expiration);
        const auto row = ctx.write({"modifying this access token", revived_privileges(ctx, *current, b), {}})
                             .modify_token(id, token_change{b.expiration, b.enabled, b.name, b.allowed_cidrs});
        if (!row) throw not_found("no access token with id " + to_string(id));
        ctx.audit("token_modified", {{"token_id", to_string(id)},
                                     {"enabled", row->enabled},
                                     {"was_enabled", current->enabled},
                                     {"expiration_time", expiration_text(row->expiration_time)},
                                     {"name", optional_text(row->name)},
                                     {"allowed_cidrs", cidr_list(row->allowed_cidrs)}});
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
