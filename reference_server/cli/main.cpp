// tokenauth-cli: the qq commands of the access-token documentation, against any server that
// speaks this REST API (the reference server, or Qumulo Core). Same command names, flags and
// output shapes as qq; no Python needed.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <termios.h>
#include <tokenauth/identity.hpp>
#include <tokenauth/privilege.hpp>
#include <tokenauth/time.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/router.hpp"  // percent_encode
#include "../text.hpp"

using nlohmann::json;
namespace text = tokenauth::server::text;

namespace {

/// A failure to report as one line on stderr; exit status 1.
struct cli_error {
    std::string message;
};

struct globals {
    std::string host;
    int port = 8000;
    std::string credentials_store;
    std::string ca_cert;
};

std::string default_credentials_store() {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : ".") + "/.qfsd_cred";
}

/// Writes {"bearer_token": ..., "version": 1} with mode 0600 (atomically: temp file + rename).
void write_credentials(const std::string& path, const std::string& bearer) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw cli_error{"Error: cannot write credentials file " + path};
    ::fchmod(fd, 0600);
    const std::string text = json{{"bearer_token", bearer}, {"version", 1}}.dump() + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        throw cli_error{"Error: cannot write credentials file " + path};
    }
}

/// The bearer token of a credentials file; "" when the file does not exist.
std::string read_credentials(const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        if (::access(path.c_str(), F_OK) == 0) throw cli_error{"Error: cannot read credentials file " + path};
        return "";
    }
    std::stringstream ss;
    ss << f.rdbuf();
    const json j = json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw cli_error{"Error: credentials file " + path + " is not valid JSON; log in again"};
    if (!j.contains("version") || j["version"] != 1)
        throw cli_error{"Error: credentials file " + path + " has an unsupported version; log in again"};
    if (!j.contains("bearer_token") || !j["bearer_token"].is_string())
        throw cli_error{"Error: credentials file " + path + " has no bearer_token; log in again"};
    return j["bearer_token"].get<std::string>();
}

std::string describe(httplib::Error e) {
    switch (e) {
    case httplib::Error::Connection: return "cannot connect to the server";
    case httplib::Error::SSLConnection: return "TLS handshake with the server failed";
    case httplib::Error::SSLServerVerification: return "the server certificate did not verify against --ca-cert";
    case httplib::Error::SSLLoadingCerts: return "cannot load the --ca-cert file";
    case httplib::Error::Read: return "the connection closed while reading the response";
    case httplib::Error::Write: return "the connection closed while sending the request";
    case httplib::Error::ConnectionTimeout: return "timed out connecting to the server";
    default: return "request failed: " + httplib::to_string(e);
    }
}

/// One kept-alive HTTPS connection for the whole command, like qq.
class connection {
public:
    explicit connection(const globals& g, bool authenticate = true) : g_(g), client_(g.host, g.port) {
        if (g.ca_cert.empty()) {
            client_.enable_server_certificate_verification(false);
        } else {
            client_.set_ca_cert_path(g.ca_cert.c_str());
            client_.enable_server_certificate_verification(true);
        }
        client_.set_keep_alive(true);
        client_.set_connection_timeout(10, 0);
        client_.set_read_timeout(60, 0);
        client_.set_default_headers({{"User-Agent", "tokenauth-cli"}});
        if (authenticate) bearer_ = read_credentials(g.credentials_store);
    }

    /// Sends a request; returns the parsed JSON body (null when empty); throws cli_error
    /// with "Error <status>: <class>: <description>" for a non-2xx answer.
    json call(const std::string& method, const std::string& path, const std::optional<json>& body = std::nullopt) {
        httplib::Headers headers;
        if (!bearer_.empty()) headers.emplace("Authorization", "Bearer " + bearer_);
        const std::string text = body ? body->dump() : "";
        httplib::Result r = method == "GET"     ? client_.Get(path, headers)
                            : method == "POST"  ? client_.Post(path, headers, text, "application/json")
                            : method == "PUT"   ? client_.Put(path, headers, text, "application/json")
                            : method == "PATCH" ? client_.Patch(path, headers, text, "application/json")
                                                : client_.Delete(path, headers, text, "application/json");
        if (!r) throw cli_error{"Error: " + describe(r.error()) + " (" + g_.host + ":" + std::to_string(g_.port) + ")"};
        const json parsed = r->body.empty() ? json() : json::parse(r->body, nullptr, false);
        if (r->status < 200 || r->status > 299) {
            if (parsed.is_object() && parsed.contains("error_class"))
                throw cli_error{"Error " + std::to_string(r->status) + ": " + parsed.value("error_class", "") + ": " +
                                parsed.value("description", "")};
            throw cli_error{"Error " + std::to_string(r->status) + ": " + r->body.substr(0, 200)};
        }
        if (parsed.is_discarded()) throw cli_error{"Error: the server sent a response that is not JSON"};
        return parsed;
    }

private:
    const globals& g_;
    httplib::SSLClient client_;
    std::string bearer_;
};

void print_json(const json& j) { std::cout << j.dump(4) << "\n"; }

/// Reads a password from the terminal without echo (or a line from stdin if not a tty).
std::string prompt_password(const char* prompt) {
    std::cerr << prompt << std::flush;
    termios old {};
    const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string pw;
    std::getline(std::cin, pw);
    if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
    return pw;
}

tokenauth::api_identity parse_identity_or_throw(const std::string& s) {
    const auto id = tokenauth::parse_identity(s);
    if (!id) throw cli_error{"Error: invalid identity '" + s + "': " + id.detail()};
    return *id;
}

/// An identity as the `user=` query parameter carries it (prefixes local:/ad: dropped).
std::string identity_query(const tokenauth::api_identity& id) {
    if (id.auth_id) return "auth_id:" + *id.auth_id;
    if (id.uid) return "uid:" + std::to_string(*id.uid);
    if (id.gid) return "gid:" + std::to_string(*id.gid);
    if (id.sid) return *id.sid;
    return id.name.value_or("");
}

/// An expiration typed by a user, as RFC 3339 UTC with offset; "never" clears it.
json expiration_json(const std::string& text) {
    if (text == "never" || text == "none") return nullptr;
    const auto t = tokenauth::parse_human_time(text);
    if (!t) throw cli_error{"Error: invalid expiration time '" + text + "': " + t.detail()};
    return tokenauth::format_rfc3339(*t, tokenauth::utc_suffix::plus_zero);
}

std::string self_auth_id(connection& c) { return c.call("GET", "/v1/session/who-am-i").at("id").get<std::string>(); }

std::string display_identity(const json& id) {
    if (id.is_object()) {
        if (id.contains("name") && id["name"].is_string()) return id["name"].get<std::string>();
        if (id.contains("auth_id") && id["auth_id"].is_string()) return "auth_id:" + id["auth_id"].get<std::string>();
    }
    return "";
}

/// Prints rows as columns two spaces apart, with a '=' rule under the header; each column is
/// as wide as its widest cell.
void print_table(const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) return;
    std::vector<std::size_t> width(rows[0].size(), 0);
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    auto print_row = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        std::cout << line << "\n";
    };
    print_row(rows[0]);
    std::vector<std::string> rule;
    for (std::size_t w : width) rule.emplace_back(w, '=');
    print_row(rule);
    for (std::size_t r = 1; r < rows.size(); ++r) print_row(rows[r]);
}

/// Resolves a user given by --id or --name to its id.
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

/// The privilege names of a privileges file (see tokenauth::parse_privilege_list).
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

}  // namespace

int main(int argc, char** argv) {
    globals g;
    g.credentials_store = default_credentials_store();
    CLI::App app{"tokenauth-cli: qq-compatible commands for access tokens, users, groups and roles"};
    app.require_subcommand(1);
    app.fallthrough(false);
    app.footer(
        "TLS: without --ca-cert the server's certificate is not verified (like qq; the reference server\n"
        "uses a self-signed certificate). Give --ca-cert PATH to verify it.\n"
        "Times for --expiration-time: 'Jan 01 2023', '01/01/2023 00:00', '1/20/2024', '2024-01-20 12:00' or\n"
        "RFC 3339; times without a zone are UTC. Identities: NAME, local:NAME, ad:NAME, auth_id:N, uid:N,\n"
        "gid:N, SID:S-1-..., a bare SID, DOMAIN\\NAME.");
    app.add_option("--host", g.host, "server address")->required();
    app.add_option("--port", g.port, "server port")->capture_default_str();
    app.add_option("--credentials-store", g.credentials_store, "credentials file")->capture_default_str();
    app.add_option("--ca-cert", g.ca_cert, "verify the server certificate with this CA file (PEM)");

    std::function<void()> action;

    // --- sessions ---
    std::string user, password;
    auto* login = app.add_subcommand("login", "Log in and store the session in the credentials file");
    login->add_option("-u,--username", user, "user name")->required();
    login->add_option("-p,--password", password, "password (prompted without echo when absent)");
    login->callback([&] {
        action = [&] {
            if (password.empty()) password = prompt_password("Password: ");
            connection c(g, false);
            const json r = c.call("POST", "/v1/session/login", json{{"username", user}, {"password", password}});
            write_credentials(g.credentials_store, r.at("bearer_token").get<std::string>());
        };
    });
    app.add_subcommand("logout", "Forget the stored credentials")->callback([&] {
        action = [&] { ::unlink(g.credentials_store.c_str()); };
    });
    app.add_subcommand("who_am_i", "Show the authenticated user")->callback([&] {
        action = [&] {
            connection c(g);
            print_json(c.call("GET", "/v1/session/who-am-i"));
        };
    });

    // --- access tokens ---
    std::string identity, expiration, file, token_id;
    bool self = false, json_output = false, enable = false, disable = false;
    auto* create = app.add_subcommand("auth_create_access_token", "Create an access token for a user");
    create->add_option("identity", identity, "the user who will hold the token");
    create->add_flag("--self", self, "create the token for the logged-in user");
    create->add_option("-e,--expiration-time", expiration, "when the token expires (UTC)");
    create->add_option("--file", file, "write a credentials file holding the token (mode 0600)");
    create->callback([&] {
        action = [&] {
            if (self == !identity.empty()) throw cli_error{"Error: give an identity or --self (one of them)"};
            connection c(g);
            json body;
            body["user"] = self ? json{{"auth_id", self_auth_id(c)}} : tokenauth::identity_to_json(parse_identity_or_throw(identity));
            if (!expiration.empty()) body["expiration_time"] = expiration_json(expiration);
            json r = c.call("POST", "/v1/auth/access-tokens/", body);
            if (!file.empty()) {
                write_credentials(file, r.at("bearer_token").get<std::string>());
                r.erase("bearer_token");  // it is in the file; keep it off the terminal
            }
            print_json(r);
        };
    });

    auto* get = app.add_subcommand("auth_get_access_token", "Show an access token's metadata");
    get->add_option("id", token_id, "token id")->required();
    get->callback([&] {
        action = [&] {
            connection c(g);
            print_json(c.call("GET", "/v1/auth/access-tokens/" + tokenauth::server::percent_encode(token_id)));
        };
    });

    auto* modify = app.add_subcommand("auth_modify_access_token", "Change an access token's expiration or state");
    modify->add_option("id", token_id, "token id")->required();
    modify->add_option("-e,--expiration-time", expiration, "new expiration (UTC), or 'never'");
    auto* en = modify->add_flag("--enable", enable, "enable the token");
    modify->add_flag("--disable", disable, "disable the token")->excludes(en);
    modify->callback([&] {
        action = [&] {
            json body = json::object();
            if (!expiration.empty()) body["expiration_time"] = expiration_json(expiration);
            if (enable) body["enabled"] = true;
            if (disable) body["enabled"] = false;
            if (body.empty()) throw cli_error{"Error: give --expiration-time, --enable or --disable"};
            connection c(g);
            print_json(c.call("PATCH", "/v1/auth/access-tokens/" + tokenauth::server::percent_encode(token_id), body));
        };
    });

    auto* del = app.add_subcommand("auth_delete_access_token", "Delete an access token");
    del->add_option("id", token_id, "token id")->required();
    del->callback([&] {
        action = [&] {
            connection c(g);
            c.call("DELETE", "/v1/auth/access-tokens/" + tokenauth::server::percent_encode(token_id));
        };
    });

    auto* list = app.add_subcommand("auth_list_access_tokens", "List access tokens");
    auto* user_opt = list->add_option("--user", identity, "only the tokens of this user");
    list->add_flag("--self", self, "only the logged-in user's tokens")->excludes(user_opt);
    list->add_flag("--json", json_output, "print JSON instead of a table");
    list->callback([&] {
        action = [&] {
            connection c(g);
            std::string path = "/v1/auth/access-tokens/";
            if (self) path += "?user=auth_id:" + self_auth_id(c);
            else if (!identity.empty())
                path += "?user=" + tokenauth::server::percent_encode(identity_query(parse_identity_or_throw(identity)));
            json entries = json::array();
            for (int pages = 0; !path.empty(); ++pages) {
                if (pages > 100000) throw cli_error{"Error: the server's paging does not end"};
                const json r = c.call("GET", path);
                for (const auto& e : r.at("entries")) entries.push_back(e);
                const json& next = r.at("paging").at("next");
                path = next.is_string() ? next.get<std::string>() : "";
            }
            if (json_output) {
                print_json(json{{"entries", entries}});
                return;
            }
            std::vector<std::vector<std::string>> rows = {
                {"id", "user", "creator", "creation time", "expiration time", "enabled"}};
            for (const auto& e : entries)
                rows.push_back({e.at("id").get<std::string>(), display_identity(e.at("user")),
                                display_identity(e.at("creator")), e.at("creation_time").get<std::string>(),
                                e.at("expiration_time").is_string() ? e["expiration_time"].get<std::string>() : "",
                                e.at("enabled").get<bool>() ? "True" : "False"});
            print_table(rows);
        };
    });

    // --- users and groups ---
    std::string name, id, primary_group, uid, home, add_group, remove_group, gid;
    auto* add_user = app.add_subcommand("auth_add_user", "Add a local user");
    add_user->add_option("--name", name, "user name")->required();
    add_user->add_option("-p,--password", password, "password (none: the user cannot log in)");
    add_user->add_option("-g,--primary-group", primary_group, "primary group id (default: Users)");
    add_user->add_option("-u,--uid", uid, "NFS uid");
    add_user->add_option("--home-directory", home, "home directory");
    add_user->callback([&] {
        action = [&] {
            connection c(g);
            const json r = c.call("POST", "/v1/users/",
                                  json{{"name", name},
                                       {"primary_group", primary_group.empty() ? "0" : primary_group},
                                       {"uid", uid},
                                       {"home_directory", home.empty() ? json(nullptr) : json(home)},
                                       {"password", password.empty() ? json(nullptr) : json(password)}});
            c.call("POST", "/v1/identity/expand", json{{"id", {{"auth_id", r.at("id")}}}});
            print_json(r);
        };
    });
    app.add_subcommand("auth_list_users", "List local users")->callback([&] {
        action = [&] {
            connection c(g);
            print_json(c.call("GET", "/v1/users/"));
        };
    });
    auto* set_pw = app.add_subcommand("auth_set_password", "Set a local user's password");
    set_pw->add_option("--id", id, "user id");
    set_pw->add_option("--name", name, "user name");
    set_pw->add_option("-p,--password", password, "new password (prompted when absent)");
    set_pw->callback([&] {
        action = [&] {
            connection c(g);
            const std::string uid_ = user_id(c, id, name);
            if (password.empty()) password = prompt_password("New password: ");
            c.call("POST", "/v1/users/" + uid_ + "/setpassword", json{{"new_password", password}});
        };
    });
    auto* del_user = app.add_subcommand("auth_delete_user", "Delete a local user (and its access tokens)");
    del_user->add_option("--id", id, "user id");
    del_user->add_option("--name", name, "user name");
    del_user->callback([&] {
        action = [&] {
            connection c(g);
            c.call("DELETE", "/v1/users/" + user_id(c, id, name));
        };
    });
    auto* mod_user = app.add_subcommand("auth_mod_user", "Change a local user's group memberships");
    mod_user->add_option("--id", id, "user id");
    mod_user->add_option("--name", name, "user name");
    mod_user->add_option("--add-group", add_group, "add the user to this group (id or name)");
    mod_user->add_option("--remove-group", remove_group, "remove the user from this group (id or name)");
    mod_user->callback([&] {
        action = [&] {
            connection c(g);
            const std::string uid_ = user_id(c, id, name);
            if (add_group.empty() && remove_group.empty()) throw cli_error{"Error: give --add-group or --remove-group"};
            if (!add_group.empty()) c.call("POST", "/v1/groups/" + group_id(c, add_group) + "/members/", json{{"member_id", uid_}});
            if (!remove_group.empty()) c.call("DELETE", "/v1/groups/" + group_id(c, remove_group) + "/members/" + uid_);
            print_json(c.call("GET", "/v1/users/" + uid_));
        };
    });
    auto* add_grp = app.add_subcommand("auth_add_group", "Add a local group");
    add_grp->add_option("--name", name, "group name")->required();
    add_grp->add_option("-g,--gid", gid, "NFS gid");
    add_grp->callback([&] {
        action = [&] {
            connection c(g);
            const json r = c.call("POST", "/v1/groups/", json{{"name", name}, {"gid", gid}});
            c.call("POST", "/v1/identity/expand", json{{"id", {{"auth_id", r.at("id")}}}});
            print_json(r);
        };
    });
    app.add_subcommand("auth_list_groups", "List local groups")->callback([&] {
        action = [&] {
            connection c(g);
            print_json(c.call("GET", "/v1/groups/"));
        };
    });

    // --- roles ---
    std::string role, description, privileges_file, trustee;
    auto* create_role = app.add_subcommand("auth_create_role", "Create a role");
    create_role->add_option("-r,--role", role, "role name")->required();
    create_role->add_option("-d,--description", description, "description")->required();
    create_role->add_option("-p,--privileges", privileges_file, "file of privilege names, one per line ('#' comments)")
        ->required();
    create_role->callback([&] {
        action = [&] {
            const auto names = read_privileges_file(privileges_file);
            connection c(g);
            const json known = c.call("GET", "/v1/auth/privileges/");
            for (const auto& n : names)
                if (!known.contains(n)) throw cli_error{"Error: unknown privilege '" + n + "' in " + privileges_file};
            print_json(c.call("POST", "/v1/auth/roles/", json{{"name", role}, {"description", description}, {"privileges", names}}));
        };
    });
    app.add_subcommand("auth_list_roles", "List roles")->callback([&] {
        action = [&] {
            connection c(g);
            print_json(c.call("GET", "/v1/auth/roles/"));
        };
    });
    auto* list_role = app.add_subcommand("auth_list_role", "Show a role and its members");
    list_role->add_option("-r,--role", role, "role name")->required();
    list_role->callback([&] {
        action = [&] {
            connection c(g);
            const std::string path = "/v1/auth/roles/" + tokenauth::server::percent_encode(role);
            json r = c.call("GET", path);
            json members = json::array();
            std::string next = path + "/members";
            while (!next.empty()) {
                const json m = c.call("GET", next);
                for (const auto& [k, v] : m.at("members").items()) members.push_back(v);
                next = m.at("paging").at("next").is_string() ? m["paging"]["next"].get<std::string>() : "";
            }
            r["members"] = members;
            print_json(r);
        };
    });
    auto* assign = app.add_subcommand("auth_assign_role", "Assign a role to a user or group");
    assign->add_option("-r,--role", role, "role name")->required();
    assign->add_option("-t,--trustee", trustee, "user or group identity")->required();
    assign->callback([&] {
        action = [&] {
            connection c(g);
            c.call("POST", "/v1/auth/roles/" + tokenauth::server::percent_encode(role) + "/members",
                   tokenauth::identity_to_json(parse_identity_or_throw(trustee)));
        };
    });
    auto* unassign = app.add_subcommand("auth_unassign_role", "Remove a role from a user or group");
    unassign->add_option("-r,--role", role, "role name")->required();
    unassign->add_option("-t,--trustee", trustee, "user or group identity")->required();
    unassign->callback([&] {
        action = [&] {
            connection c(g);
            const json found = c.call("POST", "/v1/identity/find", tokenauth::identity_to_json(parse_identity_or_throw(trustee)));
            c.call("DELETE", "/v1/auth/roles/" + tokenauth::server::percent_encode(role) + "/members/" +
                                 found.at("auth_id").get<std::string>());
        };
    });
    app.add_subcommand("auth_list_privileges", "List every privilege with its description")->callback([&] {
        action = [&] {
            connection c(g);
            print_json(c.call("GET", "/v1/auth/privileges/"));
        };
    });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (action) action();
        return 0;
    } catch (const cli_error& e) {
        std::cerr << e.message << "\n";
    } catch (const json::exception& e) {
        std::cerr << "Error: unexpected response from the server (" << e.what() << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "Error: " << e.what() << "\n";
    }
    return 1;
}
