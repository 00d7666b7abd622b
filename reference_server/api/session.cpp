// GET /v1/version; POST /v1/session/login; GET /v1/session/who-am-i;
// GET /v1/session/roles; POST /v1/session/change-password.
#include <tokenauth/session.hpp>

#include <unordered_map>

#include "router.hpp"

namespace tokenauth::server {
namespace {

// A fixed Argon2id hash to verify against when the user does not exist, so that a login
// for an unknown name costs the same time as one for a known name.
const std::string& dummy_password_hash() {
    static const std::string h = hash_password("tokenauth-dummy-password");
    return h;
}

std::string mint_session(const request_context& ctx, const user_row& u) {
    const timestamp now = ctx.svc.clock.now();
    return mint_session_token(ctx.svc.db.key(), {u.auth_id, u.generation, now, now + default_session_lifetime},
                              u.binding);
}

}  // namespace

void register_version_and_session(router& r) {
    r.get("/v1/version", [](request_context& ctx) {
        ctx.reply({{"revision_id", "tokenauth reference server 5.3.0"},
                   {"build_id", "tokenauth-0.1.0"},
                   {"flavor", "release"},
                   {"build_date", "2026-11-27"}});
    }, auth::none);

    r.post("/v1/session/login", [](request_context& ctx) {
        const login_body b = ctx.body(decode_login(ctx.req.body));
        const user_row* found = nullptr;
        for (const auto& [id, u] : ctx.dir->users)
            if (detail::iequals(u.name, b.username)) found = &u;
        const bool can_log_in = found != nullptr && found->password_hash.has_value();
        const bool ok = verify_password(can_log_in ? *found->password_hash : dummy_password_hash(), b.password) && can_log_in;
        if (!ok) {
            ctx.svc.log.write("login_failed", {{"remote_addr", ctx.req.remote_addr}, {"reason", "invalid username or password"}});
            throw api_error{401, "invalid_credentials_error", "invalid username or password"};
        }
        ctx.svc.log.write("login", {{"auth_id", std::to_string(found->auth_id)}, {"remote_addr", ctx.req.remote_addr}});
        ctx.reply({{"bearer_token", mint_session(ctx, *found)}});
    }, auth::none);

    r.get("/v1/session/who-am-i", [](request_context& ctx) {
        // The hottest authenticated endpoint: each thread keeps the serialized body per user
        // for the current directory version (any user, group or role change makes a new one).
        struct body_cache {
            std::uint64_t version = ~std::uint64_t{0};
            std::unordered_map<std::uint64_t, std::string> bodies;
        };
        thread_local body_cache cache;
        if (cache.version != ctx.dir->version || cache.bodies.size() > 4096) {
            cache.bodies.clear();
            cache.version = ctx.dir->version;
        }
        auto it = cache.bodies.find(ctx.who.auth_id);
        if (it == cache.bodies.end()) {
            const user_row* u = ctx.dir->user(ctx.who.auth_id);
            if (u == nullptr) throw api_error{401, "invalid_credentials_error", "the credential's user no longer exists"};
            nlohmann::json j = user_json(*ctx.dir, *u);
            nlohmann::json privileges = nlohmann::json::array();
            for (privilege p : ctx.dir->privileges_of(u->auth_id).to_vector()) privileges.push_back(to_string(p));
            j["privileges"] = std::move(privileges);
            it = cache.bodies.emplace(u->auth_id, j.dump()).first;
        }
        ctx.res.status = 200;
        ctx.res.body = it->second;
        if (ctx.who.kind == credential_kind::access_token) {
            ctx.res.body.pop_back();  // the closing '}' of the object
            ctx.res.body += ",\"access_token_id\":\"" + to_string(ctx.who.token) + "\"}";
        }
        ctx.res.set_header("Content-Type", "application/json");
    });

    r.get("/v1/session/roles", [](request_context& ctx) { ctx.reply(ctx.dir->roles_of(ctx.who.auth_id)); });

    r.post("/v1/session/change-password", [](request_context& ctx) {
        const change_password_body b = ctx.body(decode_change_password(ctx.req.body));
        const user_row* u = ctx.dir->user(ctx.who.auth_id);
        if (u == nullptr || !u->password_hash || !verify_password(*u->password_hash, b.old_password))
            throw api_error{401, "invalid_credentials_error", "the old password is not correct"};
        ctx.svc.db.set_password(u->auth_id, hash_password(b.new_password));
        ctx.svc.log.write("password_changed", {{"auth_id", std::to_string(u->auth_id)}, {"by", std::to_string(u->auth_id)}});
        // Every earlier session of the user has ended; the caller gets a fresh one.
        ctx.reply({{"bearer_token", mint_session(ctx, *ctx.svc.db.snapshot()->user(u->auth_id))}});
    });
}

}  // namespace tokenauth::server
