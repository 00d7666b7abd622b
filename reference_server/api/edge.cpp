// Validation for other services, through the same validator and throttle as every route:
//   any method on /v1/auth/verify[/...]  edge proxies (nginx auth_request, Traefik
//                                        forwardAuth, Envoy ext_authz): a status and headers
//   POST /v1/auth/introspect             RFC 7662 token introspection
//   POST /v1/auth/tokenreviews           Kubernetes webhook token authentication
#include <tokenauth/session.hpp>

#include <tokenauth/detail/wipe.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "router.hpp"
#include "../text.hpp"

namespace tokenauth::server {
namespace {

constexpr const char* realm = "Bearer realm=\"tokenauth\"";

/// RFC 6750's challenge: realm only for a request without credentials, error= otherwise.
std::string challenge(const char* error) {
    return error == nullptr ? realm : std::string(realm) + ", error=\"" + error + "\"";
}

/// The privilege a proxy asks the caller to hold: ?privilege= or X-Tokenauth-Required-Privilege
/// (the query wins); nullopt for none, 400 for a name that is not a privilege.
std::optional<privilege> required_privilege(const request_context& ctx) {
    std::string name = ctx.req.get_param_value("privilege");
    if (name.empty()) name = ctx.req.get_header_value("X-Tokenauth-Required-Privilege");
    if (name.empty()) return std::nullopt;
    const auto p = parse_privilege(name);
    if (!p) throw bad_request("unknown privilege required by the proxy: '" + name.substr(0, 64) + "'");
    return *p;
}

/// Comma-separated privilege names, for a header.
std::string joined(const privilege_set& s, char separator) {
    std::string out;
    for (privilege p : s.to_vector()) {
        if (!out.empty()) out += separator;
        out += to_string(p);
    }
    return out;
}

void verify(request_context& ctx) {
    try {
        authenticate(ctx);
    } catch (const api_error& e) {
        if (e.status != 401 && e.status != 429) throw;
        // nginx turns any status but 2xx, 401 and 403 into 500: a throttled client gets 401
        // with Retry-After instead of 429.
        api_error out = e;
        out.status = 401;
        const bool none = ctx.req.get_header_value("Authorization").empty() && e.status == 401;
        ctx.res.set_header("WWW-Authenticate", challenge(none ? nullptr : "invalid_token"));
        throw out;
    }
    const user_row* u = ctx.dir->user(ctx.who.auth_id);
    if (u == nullptr) {
        ctx.res.set_header("WWW-Authenticate", challenge("invalid_token"));
        throw api_error{401, "invalid_credentials_error", "the credential's user no longer exists"};
    }
    // The privileges only when asked for: a plain verify is on every proxied request.
    const auto needed = required_privilege(ctx);
    const bool list = ctx.req.get_param_value("privileges") == "1";
    const privilege_set held = needed || list ? ctx.caller_privileges() : privilege_set{};
    if (needed && !held.contains(*needed)) {
        ctx.res.set_header("WWW-Authenticate", challenge("insufficient_scope"));
        throw api_error{403, "privilege_required_error", std::string(to_string(*needed)) + " is required for this request"};
    }
    ctx.res.status = 200;
    ctx.res.set_header("X-Auth-Request-User", text::percent_encode(u->name));
    ctx.res.set_header("X-Tokenauth-Auth-Id", std::to_string(u->auth_id));
    if (ctx.who.kind == credential_kind::access_token) ctx.res.set_header("X-Tokenauth-Token-Id", to_string(ctx.who.token));
    if (list) ctx.res.set_header("X-Tokenauth-Privileges", joined(held, ','));
}

/// The caller of introspection and TokenReview: a bearer holding PRIVILEGE_ACCESS_TOKENS_READ.
/// Anything else is 401, as RFC 7662 says for a caller not allowed to introspect.
void require_reviewer(request_context& ctx) {
    authenticate(ctx);
    if (!ctx.caller_privileges().contains(privilege::access_tokens_read))
        throw api_error{401, "privilege_required_error", "PRIVILEGE_ACCESS_TOKENS_READ is required to review tokens"};
}

/// Validates a token a reviewer sent in a body: its user, with who set, or nullptr. An invalid
/// one counts against the reviewer's address in the failure throttle, so reviewing is no way
/// around it.
const user_row* review(request_context& ctx, std::string_view token, principal& out,
                       const ip_address* presented_from = nullptr) {
    std::string header = "Bearer ";
    header += token;
    // The token's own client, not the reviewer: a token with network bounds is inactive
    // unless the reviewer says where it was presented from.
    const auto who = ctx.validate_from(header, presented_from);
    tokenauth::wipe(header.data(), header.size());
    const user_row* u = who ? ctx.dir->user(who->auth_id) : nullptr;
    if (u == nullptr) {
        ctx.svc.abuse.bearer_addresses.failure(ctx.client, std::chrono::steady_clock::now());
        ctx.svc.abuse.failures.write("token_review_failed", ctx.client, who ? std::string("unknown_user") : std::string(to_identifier(who.code())),
                                     [&] { return nlohmann::json{{"path", ctx.req.path}}; });
        return nullptr;
    }
    out = *who;
    return u;
}

std::int64_t seconds(timestamp t) { return t / nanos_per_second; }

void introspect(request_context& ctx) {
    const std::string type = ctx.req.get_header_value("Content-Type");
    if (type.rfind("application/x-www-form-urlencoded", 0) != 0)
        throw api_error{415, "unsupported_media_type_error", "introspection takes an application/x-www-form-urlencoded body"};
    require_reviewer(ctx);
    introspection_body form = ctx.body(decode_introspection(ctx.req.body));
    std::string& token = form.token;
    ip_address presented_from;
    const bool known = form.client_address && parse_ip_address(*form.client_address, presented_from) == errc::ok;
    principal who;
    const user_row* found = review(ctx, token, who, known ? &presented_from : nullptr);
    tokenauth::wipe(token.data(), token.size());
    if (found == nullptr) return ctx.reply({{"active", false}});  // never why
    nlohmann::json j = {{"active", true},
                        {"sub", std::to_string(who.auth_id)},
                        {"username", found->name},
                        {"token_type", "Bearer"},
                        {"scope", joined(ctx.svc.db.scopes().restrict(ctx.dir->privileges_of(who.auth_id), who.scope), ' ')}};
    if (who.expires_at != never_expires) j["exp"] = seconds(who.expires_at);
    if (who.kind == credential_kind::access_token) {
        if (const auto row = ctx.svc.db.get_token(who.token)) j["iat"] = seconds(row->creation_time);
    } else {
        j["iat"] = seconds(who.expires_at - default_session_lifetime);  // every session lives that long
    }
    ctx.reply(j);
}

bool is_system_name(std::string_view name) { return name.rfind("system:", 0) == 0; }

void token_review(request_context& ctx) {
    token_review_body in = ctx.body(decode_token_review(ctx.req.body));
    const std::vector<std::string>& audiences = in.audiences;
    require_reviewer(ctx);
    const std::string& audience = ctx.svc.policy.k8s_audience;
    const bool audience_ok =
        audiences.empty() || (!audience.empty() && std::find(audiences.begin(), audiences.end(), audience) != audiences.end());
    std::string& token = in.token;
    principal who;
    const user_row* found = audience_ok ? review(ctx, token, who) : nullptr;
    tokenauth::wipe(token.data(), token.size());
    nlohmann::json status;
    const std::string& prefix = ctx.svc.policy.k8s_prefix;
    const std::string username = found != nullptr ? prefix + found->name : std::string();
    if (found == nullptr || is_system_name(username)) {
        status = {{"authenticated", false}, {"error", audience_ok ? "invalid token" : "token not valid for the requested audiences"}};
    } else {
        nlohmann::json groups = nlohmann::json::array();
        for (std::uint64_t g : ctx.dir->groups_of(found->auth_id))
            if (const group_row* row = ctx.dir->group(g); row != nullptr && !is_system_name(prefix + row->name))
                groups.push_back(prefix + row->name);
        status = {{"authenticated", true},
                  {"user", {{"username", username}, {"uid", std::to_string(found->auth_id)}, {"groups", groups}}}};
        if (!audiences.empty()) status["audiences"] = nlohmann::json::array({audience});
    }
    ctx.reply({{"apiVersion", in.api_version}, {"kind", "TokenReview"}, {"status", status}});
}

}  // namespace

void register_edge(router& r) {
    r.any("/v1/auth/verify", verify, auth::none);
    r.any("/v1/auth/verify/.*", verify, auth::none);
    r.post("/v1/auth/introspect", introspect, auth::none);
    r.post("/v1/auth/tokenreviews", token_review, auth::none);
}

}  // namespace tokenauth::server
