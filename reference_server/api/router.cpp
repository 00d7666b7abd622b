#include "router.hpp"

#include <tokenauth/identity.hpp>

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

void send_error(httplib::Response& res, const api_error& e) {
    res.status = e.status;
    res.set_content(error_text(e), "application/json");
}

api_error not_found(const std::string& what) { return {404, "not_found_error", what}; }

std::uint64_t parse_path_id(const std::string& s, const char* what) {
    const auto v = detail::parse_decimal(s, UINT64_MAX);
    if (!v) throw not_found(std::string("no ") + what + " with id '" + s.substr(0, 64) + "'");
    return *v;
}

std::string percent_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~' || c == ':') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

void request_context::require(privilege p) const {
    if (!dir->privileges_of(who.auth_id).contains(p))
        throw api_error{403, "privilege_required_error", std::string(to_string(p)) + " is required for this request"};
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

/// The 401 for a rejected credential. Unknown id and wrong secret read the same, so a
/// client learns nothing about which token ids exist.
api_error unauthorized(errc code, bool session) {
    switch (code) {
    case errc::missing_credentials:
        return {401, "authentication_required_error",
                "authentication required: send 'Authorization: Bearer <token>' (log in or use an access token)"};
    case errc::unknown_token:
    case errc::bad_secret: return {401, "invalid_credentials_error", "access token is not valid"};
    case errc::expired:
        return session ? api_error{401, "session_expired_error", "session has expired; log in again"}
                       : api_error{401, "access_token_expired_error", "access token has expired"};
    case errc::disabled: return {401, "access_token_disabled_error", "access token is disabled"};
    case errc::bad_signature: return {401, "invalid_credentials_error", "session token is not valid"};
    case errc::session_revoked:
        return {401, "session_ended_error", "session has been ended (password changed); log in again"};
    case errc::unknown_user: return {401, "invalid_credentials_error", "the credential's user no longer exists"};
    default: return {401, "invalid_credentials_error", std::string("malformed credential: ") + to_string(code)};
    }
}

}  // namespace

void router::authenticate(request_context& ctx) const {
    static const std::string empty;
    const auto found = ctx.req.headers.find("Authorization");  // case-insensitive, no copy
    const std::string& header = found == ctx.req.headers.end() ? empty : found->second;
    const auto who = svc_.validator.validate(header);
    if (!who) {
        const std::string_view token = header.size() > 7 ? std::string_view(header).substr(7) : std::string_view();
        nlohmann::json fields = {{"reason", to_identifier(who.code())},
                                 {"remote_addr", ctx.req.remote_addr},
                                 {"method", ctx.req.method},
                                 {"path", ctx.req.path.substr(0, 256)}};
        if (const auto parsed = parse_access_token(token)) fields["token_id"] = to_string(parsed->id);
        svc_.log.write("auth_failed", std::move(fields));
        throw unauthorized(who.code(), token.substr(0, session_token_prefix.size()) == session_token_prefix);
    }
    ctx.who = *who;
}

void router::add(const char* method, const std::string& pattern, handler h, auth a) {
    auto wrapped = [this, h = std::move(h), a](const httplib::Request& req, httplib::Response& res) {
        request_context ctx(svc_, req, res);
        try {
            if (a == auth::required) authenticate(ctx);
            ctx.dir = svc_.db.snapshot();
            h(ctx);
        } catch (const api_error& e) {
            send_error(res, e);
        } catch (const std::exception& e) {
            svc_.log.write("internal_error", {{"method", req.method}, {"path", req.path.substr(0, 256)}, {"what", e.what()}});
            send_error(res, {500, "internal_error", "the server could not complete the request"});
        }
    };
    const std::string m = method;
    if (m == "GET") http_.Get(pattern, wrapped);
    else if (m == "POST") http_.Post(pattern, wrapped);
    else if (m == "PUT") http_.Put(pattern, wrapped);
    else if (m == "PATCH") http_.Patch(pattern, wrapped);
    else if (m == "DELETE") http_.Delete(pattern, wrapped);
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
