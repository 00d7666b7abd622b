// GET /v1/version; GET /livez, /readyz; POST /v1/session/login; GET /v1/session/who-am-i;
// GET /v1/session/roles; POST /v1/session/change-password and /v1/session/end-others.
#include <tokenauth/session.hpp>

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "build_info.hpp"
#include "router.hpp"
#include "../text.hpp"

namespace tokenauth::server {
namespace {

std::string mint_session(const request_context& ctx, const user_row& u) {
    const timestamp now = ctx.svc.clock.now();
    return mint_session_token(ctx.svc.db.key(), {u.auth_id, u.generation, now, now + default_session_lifetime},
                              u.binding);
}

}  // namespace

void register_version_and_session(router& r) {
    r.get("/v1/version", [](request_context& ctx) {
        ctx.reply({{"revision_id", std::string("tokenauth reference server ") + build::api_version},
                   {"build_id", std::string("tokenauth-") + build::version},
                   {"flavor", build::flavor},
                   {"build_date", build::date}});
    }, auth::none);

    // Probes for load balancers and Kubernetes: unauthenticated, outside the failure
    // throttle, answered from cached state (no database round trip).
    r.get("/livez", [](request_context& ctx) { ctx.reply({{"status", "ok"}}); }, auth::none);
    r.get("/readyz", [](request_context& ctx) {
        if (const char* why = ctx.svc.db.not_ready()) return ctx.reply({{"status", "unavailable"}, {"reason", why}}, 503);
        ctx.reply({{"status", "ready"}});
    }, auth::none);

    r.post("/v1/session/login", [](request_context& ctx) {
        const login_body b = ctx.body(decode_login(ctx.req.body));
        const std::optional<std::uint64_t> id = ctx.dir->principal_named(b.username);
        const user_row* found = id ? ctx.dir->user(*id) : nullptr;
        bool ok = false;
        try {
            ok = ctx.check_password("login_failed", found, b.username, b.password);
        } catch (const api_error& e) {
            ctx.svc.metrics.login(e.status == 429 ? login_result::throttled : login_result::busy);
            throw;
        }
        ctx.svc.metrics.login(ok ? login_result::success : login_result::failure);
        if (!ok) throw api_error{401, "invalid_credentials_error", "invalid username or password"};
        ctx.svc.log.write("login", {{"auth_id", std::to_string(found->auth_id)}, {"remote_addr", ctx.client}});
        ctx.svc.audit.write("login", {{"actor", {{"auth_id", std::to_string(found->auth_id)}, {"name", found->name}}},
                                      {"client", ctx.client},
                                      {"outcome", "success"}});
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
        if (ctx.who.scope != scope_table::unrestricted) {
            // A scoped token: its effective privileges, not the user's (not cached).
            const user_row* u = ctx.dir->user(ctx.who.auth_id);
            if (u == nullptr) throw api_error{401, "invalid_credentials_error", "the credential's user no longer exists"};
            nlohmann::json j = user_json(*ctx.dir, *u);
            nlohmann::json privileges = nlohmann::json::array();
            for (privilege p : ctx.caller_privileges().to_vector()) privileges.push_back(to_string(p));
            j["privileges"] = std::move(privileges);
            j["access_token_id"] = to_string(ctx.who.token);
            j["access_token_scoped"] = true;
            ctx.reply(j);
            return;
        }
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
        if (u == nullptr || !ctx.check_password("password_check_failed", u, u->name, b.old_password))
            throw api_error{401, "invalid_credentials_error", "the old password is not correct"};
        // One's own password, proven by the old one: nothing is given to anyone else.
        const user_row changed =
            ctx.write({"changing one's password", {}, {}}).set_password(u->auth_id, ctx.hash_password(b.new_password));
        ctx.audit("password_changed", {{"auth_id", std::to_string(u->auth_id)}, {"sessions_ended", true}});
        // Every earlier session of the user has ended; the caller gets a fresh one.
        ctx.reply({{"bearer_token", mint_session(ctx, changed)}});
    });

    // Ends the caller's other sessions (every session of the user: its generation moves on).
    // A caller signed in with a session gets a fresh one in bearer_token; one using an access
    // token gets null (it needs none). Not Qumulo's: ASVS 5.0's session termination.
    r.post("/v1/session/end-others", [](request_context& ctx) {
        const user_row* u = ctx.dir->user(ctx.who.auth_id);
        if (u == nullptr) throw api_error{401, "invalid_credentials_error", "the credential's user no longer exists"};
        // One's own sessions: nothing is given to anyone else.
        const user_row changed = ctx.write({"ending one's other sessions", {}, {}}).update_user(*u, true);
        ctx.audit("sessions_ended", {{"auth_id", std::to_string(u->auth_id)}, {"kept", "the caller's"}});
        if (ctx.who.kind == credential_kind::session) return ctx.reply({{"bearer_token", mint_session(ctx, changed)}});
        ctx.reply({{"bearer_token", nullptr}});
    });
}

}  // namespace tokenauth::server
