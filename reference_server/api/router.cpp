#include "router.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <tokenauth/identity.hpp>

#include <algorithm>
#include "../names.hpp"
#include "../text.hpp"

namespace tokenauth::server {

nlohmann::json error_body(const api_error& e) {
    return {{"module", "tokenauth"},
            {"error_class", e.error_class},
            {"description", e.description},
            {"stack", nlohmann::json::array()},
            {"user_visible", true}};
}

std::string error_text(const api_error& e) {
    return error_body(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_error(http_response& res, const api_error& e) {
    res.status = e.status;
    nlohmann::json body = error_body(e);
    if (const std::string& id = request_id::current(); !id.empty()) body["request_id"] = id;  // an added field
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
    if (e.retry_after > 0) res.set_header("Retry-After", std::to_string(e.retry_after));
}

namespace {

bool is_ip_literal(const std::string& s) {
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool is_trusted(const std::vector<std::string>& trusted, const std::string& addr) {
    return std::find(trusted.begin(), trusted.end(), addr) != trusted.end();
}

/// How long a request waits for a password slot (if few enough wait already) before 503.
constexpr std::chrono::milliseconds password_patience{1000};

}  // namespace

std::string client_address(const http_request& req, const std::vector<std::string>& trusted_proxies) {
    if (trusted_proxies.empty() || !is_trusted(trusted_proxies, req.remote_addr)) return req.remote_addr;
    // Every X-Forwarded-For line, in order, as one list; the proxy appended the address it
    // saw on the right, so read from there and stop at the first hop we do not trust.
    std::vector<std::string> hops;
    const auto range = req.headers.equal_range("X-Forwarded-For");
    for (auto it = range.first; it != range.second; ++it)
        for (const std::string& hop : text::split(it->second, ','))
            hops.emplace_back(text::trim(hop));
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        if (!is_ip_literal(*it)) return req.remote_addr;  // not what a proxy writes: believe nothing
        if (!is_trusted(trusted_proxies, *it)) return *it;
    }
    return hops.empty() ? req.remote_addr : hops.front();
}

std::uint64_t request_context::query_uint(const char* key, std::uint64_t fallback, std::uint64_t min,
                                          std::uint64_t max) const {
    if (!req.has_param(key)) return fallback;
    const auto n = text::parse_decimal(req.get_param_value(key), max);
    if (!n || *n < min)
        throw bad_request(std::string("query parameter '") + key + "' must be an integer from " + std::to_string(min) +
                          " to " + std::to_string(max));
    return *n;
}

std::string paging_link(std::string path_and_query, std::uint64_t limit, std::uint64_t after) {
    return path_and_query + "limit=" + std::to_string(limit) + "&after=" + std::to_string(after);
}

result<principal> request_context::validate(std::string_view header) const {
    ip_address address;
    return validate_from(header, parse_ip_address(client, address) == errc::ok ? &address : nullptr);
}

result<principal> request_context::validate_from(std::string_view header, const ip_address* address) const {
    auto who = svc.validator.validate(header, address);
    svc.metrics.validation(who ? errc::ok : who.code());
    if (!who && who.code() == errc::address_not_allowed) {
        // The right secret from outside the token's networks: a leaked token, most likely.
        std::string_view token;
        (void)tokenauth::validator::split_bearer(header, token);
        const auto parsed = parse_access_token(token);
        svc.audit.write("token_address_refused",
                        {{"actor", nullptr},
                         {"target", {{"token_id", parsed ? nlohmann::json(to_string(parsed->id)) : nlohmann::json(nullptr)}}},
                         {"client", address != nullptr ? nlohmann::json(to_string(*address)) : nlohmann::json(nullptr)},
                         {"outcome", "refused"}});
    }
    return who;
}

std::string request_context::hash_password(const std::string& password) const {
    if (!svc.abuse.passwords.enter(password_patience)) {
        svc.metrics.shed.add(0);
        throw api_error{503, "server_busy_error", "the server is busy hashing passwords; try again shortly", 1};
    }
    const password_gate::pass slot(svc.abuse.passwords);
    return server::hash_password(password);
}

bool request_context::verify_password(const std::string& hash, const std::string& password) const {
    if (!svc.abuse.passwords.enter(password_patience)) {
        svc.metrics.shed.add(0);
        throw api_error{503, "server_busy_error", "the server is busy checking passwords; try again shortly", 1};
    }
    const password_gate::pass slot(svc.abuse.passwords);
    return server::verify_password(hash, password);
}

namespace {
// A fixed Argon2id hash to verify against when the user does not exist (or has no
// password), so that a check for an unknown name costs what one for a known name costs.
const std::string& dummy_password_hash() {
    static const std::string h = server::hash_password("tokenauth-dummy-password");
    return h;
}
}  // namespace

bool request_context::check_password(const char* event, const user_row* u, std::string_view name,
                                     const std::string& password) const {
    // Throttled before any password work: per (address, name) and per address, never per
    // user alone, so nobody can lock an account out from elsewhere. The name counts by its
    // key, so case and Unicode variants of one name share one budget.
    abuse_controls& abuse = svc.abuse;
    const auto now = std::chrono::steady_clock::now();
    const std::string pair = client + '\n' + names::key(name);
    const auto wait = std::max(abuse.login_addresses.blocked_for(client, now), abuse.login_pairs.blocked_for(pair, now));
    if (wait > 0) {
        svc.metrics.throttled.add(0);
        abuse.failures.write(event, client, "throttled", [] { return nlohmann::json::object(); });
        throw api_error{429, "too_many_requests_error",
                        "too many failed password checks; try again in " + std::to_string(wait) + " s",
                        static_cast<int>(wait)};
    }
    const bool can_log_in = u != nullptr && u->password_hash.has_value();
    bool ok = false;
    try {
        ok = verify_password(can_log_in ? *u->password_hash : dummy_password_hash(), password) && can_log_in;
    } catch (const api_error& e) {
        // Busy (503): counts against the address, so a flood soon gets cheap 429s and leaves
        // the password slots to everybody else.
        if (e.status == 503) abuse.login_addresses.failure(client, now);
        throw;
    }
    if (!ok) {
        abuse.login_pairs.failure(pair, now);
        abuse.login_addresses.failure(client, now);
        abuse.failures.write(event, client, "invalid username or password",
                             [&] { return nlohmann::json{{"user", std::string(name.substr(0, 64))}}; });
        return false;
    }
    abuse.login_pairs.success(pair);
    return true;
}

api_error not_found(const std::string& what) { return {404, "not_found_error", what}; }

std::uint64_t parse_path_id(const std::string& s, const char* what) {
    const auto v = text::parse_decimal(s, UINT64_MAX);
    if (!v) throw not_found(std::string("no ") + what + " with id '" + s.substr(0, 64) + "'");
    return *v;
}

resolved request_context::resolve(const api_identity& id) const {
    std::string why;
    const auto found = dir->resolve(id, why);
    if (!found) throw not_found(why);
    return *found;
}

void request_context::reply(const nlohmann::json& j, int status) const {
    res.status = status;
    res.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    res.set_header("Content-Type", "application/json");
}

namespace {

/// Storage's domain errors as the API reports them.
api_error to_api_error(const storage_error& e) {
    switch (e.which()) {
    case storage_error::kind::not_found: return {404, "not_found_error", e.what()};
    case storage_error::kind::conflict: return {409, "name_conflict_error", e.what()};
    case storage_error::kind::limit_reached: return {409, "access_token_limit_error", e.what()};
    case storage_error::kind::in_use: return {409, "group_in_use_error", e.what()};
    case storage_error::kind::unavailable: return {503, "storage_unavailable_error", e.what(), 1};
    }
    return {500, "internal_error", "the server could not complete the request"};
}

/// The 401 for a rejected credential. Unknown id and wrong secret read the same, so a
/// client learns nothing about which token ids exist.
api_error unauthorized(errc code, bool session) {
    switch (code) {
    case errc::missing_credentials:
        return {401, "authentication_required_error",
                "authentication required: send 'Authorization: Bearer <token>' (log in or use an access token)"};
    case errc::unknown_token:
    case errc::bad_secret:
    case errc::address_not_allowed:  // as an unknown token: the bounds are not the caller's to learn
        return {401, "invalid_credentials_error", "access token is not valid"};
    case errc::expired:
        return session ? api_error{401, "session_expired_error", "session has expired; log in again"}
                       : api_error{401, "access_token_expired_error", "access token has expired"};
    case errc::disabled: return {401, "access_token_disabled_error", "access token is disabled"};
    case errc::bad_signature: return {401, "invalid_credentials_error", "session token is not valid"};
    case errc::session_revoked:
        return {401, "session_ended_error", "session has been ended (password changed); log in again"};
    case errc::unknown_user: return {401, "invalid_credentials_error", "the credential's user no longer exists"};
    case errc::store_stale:
        return {503, "storage_unavailable_error", "this server has lost touch with its token store; try again shortly", 1};
    case errc::ok:
    case errc::header_too_long:
    case errc::bad_scheme:
    case errc::malformed:
    case errc::bad_prefix:
    case errc::bad_length:
    case errc::bad_encoding:
    case errc::bad_padding:
    case errc::noncanonical_encoding:
    case errc::bad_checksum:
    case errc::unsupported_version:
    case errc::bad_time:
    case errc::time_out_of_range:
    case errc::bad_identity:
    case errc::unknown_privilege:
    case errc::bad_token_id:
    case errc::too_long:
    case errc::bad_address: break;
    }
    return {401, "invalid_credentials_error", std::string("malformed credential: ") + to_string(code)};
}

}  // namespace

void authenticate(request_context& ctx) {
    services& svc = ctx.svc;
    // A server that may have missed revocations elsewhere fails closed.
    if (svc.db.stale()) {
        svc.metrics.validation(errc::store_stale);
        throw api_error{503, "storage_unavailable_error",
                        "this server has lost touch with the shared database; try again shortly", 1};
    }
    static const std::string empty;
    const auto now = std::chrono::steady_clock::now();
    // An address that keeps failing is refused before any work (one atomic load while no
    // address is blocked).
    if (const auto wait = svc.abuse.bearer_addresses.blocked_for(ctx.client, now)) {
        svc.metrics.throttled.add(0);
        svc.abuse.failures.write("auth_failed", ctx.client, "throttled",
                                  [&] { return nlohmann::json{{"method", ctx.req.method}}; });
        throw api_error{429, "too_many_requests_error",
                        "too many failed authentications from this address; try again in " + std::to_string(wait) + " s",
                        static_cast<int>(wait)};
    }
    const auto found = ctx.req.headers.find("Authorization");  // case-insensitive, no copy
    const std::string& header = found == ctx.req.headers.end() ? empty : found->second;
    const auto who = ctx.validate(header);
    if (!who) {
        // The credential only when it was sent as one (never the bytes after another scheme).
        std::string_view token;
        if (tokenauth::validator::split_bearer(header, token) != errc::ok) token = {};
        // A request without any credential is a client that has not logged in yet, not an attack.
        if (who.code() != errc::missing_credentials) svc.abuse.bearer_addresses.failure(ctx.client, now);
        svc.abuse.failures.write("auth_failed", ctx.client, to_identifier(who.code()), [&] {
            nlohmann::json fields = {{"method", ctx.req.method}, {"path", ctx.req.path.substr(0, 256)}};
            if (const auto parsed = parse_access_token(token)) fields["token_id"] = to_string(parsed->id);
            return fields;
        });
        throw unauthorized(who.code(), token.substr(0, session_token_prefix.size()) == session_token_prefix);
    }
    ctx.who = *who;
}

request_dispatcher::handler router::wrap(handler h, auth a, std::size_t route) {
    return [this, h = std::move(h), a, route](const http_request& req, http_response& res) {
        const auto started = std::chrono::steady_clock::now();
        request_context ctx(svc_, req, res);
        try {
            ctx.client = client_address(req, svc_.abuse.trusted_proxies);
            // Two answers to "who is calling" would be read differently by a proxy that takes
            // the last one: refused before anything else.
            for (const char* h : {"Authorization", "Proxy-Authorization"})
                if (req.headers.count(h) > 1)
                    throw bad_request(std::string("the request has more than one ") + h + " header");
            if (a == auth::required) authenticate(ctx);
            ctx.dir = svc_.db.snapshot();
            try {
                h(ctx);
            } catch (const api_error& e) {
                // Not found here may be only not seen yet: another server sharing the store may
                // have just created it. A 404 wrote nothing, so when catching up brings a newer
                // directory the handler runs once more on it (token rows are read from storage
                // itself); a store nobody else writes keeps its snapshot and answers at once.
                if (e.status != 404) throw;
                svc_.db.refresh();
                auto fresh = svc_.db.snapshot();
                if (fresh == ctx.dir) throw;
                // What the handler wrote goes; what was set before it (the request id) stays.
                res.status = 200;
                res.body.clear();
                header_map kept;
                const auto id = res.headers.find("X-Request-Id");
                if (id != res.headers.end()) kept.insert(*id);
                res.headers = std::move(kept);
                ctx.dir = std::move(fresh);
                h(ctx);
            }
        } catch (const api_error& e) {
            send_error(res, e);
        } catch (const storage_error& e) {
            send_error(res, to_api_error(e));
        } catch (const std::exception& e) {
            svc_.log.write("internal_error", {{"method", req.method}, {"path", req.path.substr(0, 256)}, {"what", e.what()}});
            send_error(res, {500, "internal_error", "the server could not complete the request"});
        }
        svc_.metrics.http.observe(route, res.status, std::chrono::steady_clock::now() - started);
    };
}

void router::add(http_method method, const std::string& pattern, handler h, auth a) {
    routes_.emplace_back(std::regex(pattern), method);
    http_.add(method, pattern,
              wrap(std::move(h), a, svc_.metrics.http.add_route(route_template(pattern), to_string(method))));
}

std::string router::allowed_methods(const std::string& path) const {
    std::string out;
    bool seen[std::size(routed_methods)] = {};
    for (const auto& [re, m] : routes_) {
        if (seen[static_cast<std::size_t>(m)] || !std::regex_match(path, re)) continue;
        seen[static_cast<std::size_t>(m)] = true;
        out += (out.empty() ? "" : ", ") + std::string(to_string(m));
    }
    if (out.find("GET") != std::string::npos) out += ", HEAD";  // the dispatcher answers HEAD with GET's route
    return out;
}

void router::answer_unrouted(const http_request& req, http_response& res) const {
    const std::string allowed = allowed_methods(req.path);
    if (allowed.empty()) return send_error(res, not_found("no such endpoint"));
    send_error(res, {405, "method_not_allowed_error", req.method.substr(0, 32) + " is not allowed here; allowed: " + allowed});
    res.set_header("Allow", allowed);
}

void router::add_fallbacks() {
    // A routed method: through wrap() like every route (counted as route "other"), with no
    // authentication. Answered, not thrown: a 404 thrown would make a shared store catch up first.
    auto fallback = [this](request_context& ctx) { answer_unrouted(ctx.req, ctx.res); };
    for (http_method m : routed_methods)
        http_.add(m, ".*", wrap(fallback, auth::none, svc_.metrics.http.add_route("other", to_string(m))));
    // A method no route has (TRACE, FOO, get): not counted, nothing else to do.
    http_.set_unrouted([this](const http_request& req, http_response& res) { answer_unrouted(req, res); });
}

nlohmann::json user_json(const directory& d, const user_row& u) {
    // Key by key (moves) rather than an initializer list (which copies every value): this
    // object is built on every who-am-i.
    nlohmann::json j = nlohmann::json::object();
    j["id"] = std::to_string(u.auth_id);
    j["name"] = u.name;
    j["primary_group"] = std::to_string(u.primary_group);
    j["sid"] = d.sid_of(u.auth_id);
    j["uid"] = u.uid;
    j["home_directory"] = u.home_directory ? nlohmann::json(*u.home_directory) : nlohmann::json(nullptr);
    j["can_change_password"] = u.auth_id != guest_auth_id;
    return j;
}

nlohmann::json group_json(const directory& d, const group_row& g) {
    return {{"id", std::to_string(g.auth_id)}, {"name", g.name}, {"sid", d.sid_of(g.auth_id)}, {"gid", g.gid}};
}

}  // namespace tokenauth::server
