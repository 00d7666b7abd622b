// tokenauth-cli: identities, times, and names resolved to ids through the API.
#include <tokenauth/privilege.hpp>
#include <tokenauth/time.hpp>

#include <fstream>
#include <sstream>

#include "common.hpp"

namespace tokenauth::cli {

tokenauth::api_identity parse_identity_or_throw(const std::string& s) {
    const auto id = tokenauth::parse_identity(s);
    if (!id) throw cli_error{"Error: invalid identity '" + s + "': " + id.detail()};
    return *id;
}

std::string identity_query(const tokenauth::api_identity& id) {
    if (id.auth_id) return "auth_id:" + *id.auth_id;
    if (id.uid) return "uid:" + std::to_string(*id.uid);
    if (id.gid) return "gid:" + std::to_string(*id.gid);
    if (id.sid) return *id.sid;
    return id.name.value_or("");
}

json expiration_json(const std::string& text) {
    if (text == "never" || text == "none") return nullptr;
    const auto t = tokenauth::parse_human_time(text);
    if (!t) throw cli_error{"Error: invalid expiration time '" + text + "': " + t.detail()};
    return tokenauth::format_rfc3339(*t, tokenauth::utc_suffix::plus_zero);
}

std::string self_auth_id(connection& c) { return c.call("GET", "/v1/session/who-am-i").at("id").get<std::string>(); }

std::string user_id(connection& c, const std::string& id, const std::string& name) {
    if (!id.empty()) return id;
    if (name.empty()) throw cli_error{"Error: give --id or --name"};
    for (const auto& u : c.call("GET", "/v1/users/"))
        if (text::iequals(u.at("name").get<std::string>(), name)) return u.at("id").get<std::string>();
    throw cli_error{"Error: no user named '" + name + "'"};
}

std::string group_id(connection& c, const std::string& group) {
    for (const auto& g : c.call("GET", "/v1/groups/"))
        if (g.at("id") == group || text::iequals(g.at("name").get<std::string>(), group))
            return g.at("id").get<std::string>();
    throw cli_error{"Error: no group '" + group + "'"};
}

std::vector<std::string> read_privileges_file(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw cli_error{"Error: cannot read privileges file " + path};
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string text = ss.str();
    std::size_t line = 0;
    const auto parsed = tokenauth::parse_privilege_list(text, &line);
    if (!parsed) {
        std::istringstream lines(text);
        std::string bad;
        for (std::size_t i = 0; i < line && std::getline(lines, bad); ++i) {
        }
        throw cli_error{"Error: " + path + ":" + std::to_string(line) + ": unknown privilege '" +
                        std::string(text::trim(bad.substr(0, bad.find('#')))) + "' (see auth_list_privileges)"};
    }
    std::vector<std::string> out;
    for (auto p : *parsed) out.emplace_back(tokenauth::to_string(p));
    return out;
}

std::string user_id(connection& c, const std::string& id_or_name) {
    if (text::parse_decimal(id_or_name, UINT64_MAX)) return id_or_name;
    return user_id(c, "", id_or_name);
}

}  // namespace tokenauth::cli
