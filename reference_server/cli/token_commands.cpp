// tokenauth-cli: the access-token commands (qq's names, flags and output).
#include <unistd.h>

#include <iostream>

#include <tokenauth/time.hpp>

#include "common.hpp"

namespace tokenauth::cli {

namespace {

struct options {
    std::string identity;
    std::string expiration;
    std::string file;
    std::string token_id;
    bool self = false;
    bool json_output = false;
    bool enable = false;
    bool disable = false;
    std::string privileges_file;
    bool show_last_used = false;
    std::string unused_since;
    std::string name;
    bool clear_name = false;
    bool show_name = false;
    std::string grace;
    std::string expiring_within;
    std::vector<std::string> allowed_cidrs;
    bool clear_allowed_cidrs = false;
    bool show_allowed_cidrs = false;
};

constexpr const char* allowed_cidr_help =
    "accept the token only from this network, such as 10.0.0.0/8 or 2001:db8::/32 (repeat for up to 16)";

/// Prints a response that holds a new bearer token, or writes the token to file (mode 0600)
/// and prints the rest: the token stays off the terminal.
void print_new_token(json r, const std::string& file) {
    if (!file.empty()) {
        write_credentials(file, r.at("bearer_token").get<std::string>());
        r.erase("bearer_token");
    }
    print_json(r);
}

}  // namespace

void add_token_commands(CLI::App& app, const globals& g, action_slot& action) {
    const auto o = std::make_shared<options>();
    auto* create = app.add_subcommand("auth_create_access_token", "Create an access token for a user");
    create->add_option("identity", o->identity, "the user who will hold the token");
    create->add_flag("--self", o->self, "create the token for the logged-in user");
    create->add_option("-e,--expiration-time", o->expiration, "when the token expires (UTC)");
    create->add_option("--file", o->file, "write a credentials file holding the token (mode 0600)");
    create->add_option("--privileges-file", o->privileges_file,
                       "restrict the token to these privileges (one name per line, as for auth_create_role -p)");
    create->add_option("--name", o->name, "a name for people to tell the token by (at most 100 characters)");
    create->add_option("--allowed-cidr", o->allowed_cidrs, allowed_cidr_help);
    create->callback([o, &g, &action] {
        action = [o, &g] {
            if (o->self == !o->identity.empty()) throw cli_error{"Error: give an identity or --self (one of them)"};
            connection c(g);
            json body;
            body["user"] = o->self ? json{{"auth_id", self_auth_id(c)}} : tokenauth::identity_to_json(parse_identity_or_throw(o->identity));
            if (!o->expiration.empty()) body["expiration_time"] = expiration_json(o->expiration);
            if (!o->privileges_file.empty()) body["privileges"] = read_privileges_file(o->privileges_file);
            if (!o->name.empty()) body["name"] = o->name;
            if (!o->allowed_cidrs.empty()) body["allowed_cidrs"] = o->allowed_cidrs;
            print_new_token(c.call("POST", "/v1/auth/access-tokens/", body), o->file);
        };
    });

    auto* get = app.add_subcommand("auth_get_access_token", "Show an access token's metadata");
    get->add_option("id", o->token_id, "token id")->required();
    get->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/auth/access-tokens/" + text::percent_encode(o->token_id)));
        };
    });

    auto* modify = app.add_subcommand("auth_modify_access_token",
                                      "Change an access token's expiration, state, name or networks");
    modify->add_option("id", o->token_id, "token id")->required();
    modify->add_option("-e,--expiration-time", o->expiration, "new expiration (UTC), or 'never'");
    auto* en = modify->add_flag("--enable", o->enable, "enable the token");
    modify->add_flag("--disable", o->disable, "disable the token")->excludes(en);
    auto* name = modify->add_option("--name", o->name, "a new name (at most 100 characters)");
    modify->add_flag("--clear-name", o->clear_name, "remove the token's name")->excludes(name);
    auto* cidrs = modify->add_option("--allowed-cidr", o->allowed_cidrs,
                                     "replace the token's networks with these (repeat for up to 16)");
    modify->add_flag("--clear-allowed-cidrs", o->clear_allowed_cidrs, "accept the token from any address again")
        ->excludes(cidrs);
    modify->callback([o, &g, &action] {
        action = [o, &g] {
            json body = json::object();
            if (!o->expiration.empty()) body["expiration_time"] = expiration_json(o->expiration);
            if (o->enable) body["enabled"] = true;
            if (o->disable) body["enabled"] = false;
            if (!o->name.empty()) body["name"] = o->name;
            if (o->clear_name) body["name"] = nullptr;
            if (!o->allowed_cidrs.empty()) body["allowed_cidrs"] = o->allowed_cidrs;
            if (o->clear_allowed_cidrs) body["allowed_cidrs"] = nullptr;
            if (body.empty())
                throw cli_error{"Error: give --expiration-time, --enable, --disable, --name, --clear-name, "
                                "--allowed-cidr or --clear-allowed-cidrs"};
            connection c(g);
            print_json(c.call("PATCH", "/v1/auth/access-tokens/" + text::percent_encode(o->token_id), body));
        };
    });

    auto* rotate = app.add_subcommand("auth_rotate_access_token",
                                      "Replace an access token with a new one for the same user, scope and name");
    rotate->add_option("id", o->token_id, "token id")->required();
    rotate->add_option("-e,--expiration-time", o->expiration,
                       "when the new token expires (UTC), or 'never'; default: as long as the old one was given");
    rotate->add_option("--grace", o->grace, "keep the old token working this long (30m, 1h, up to 1d); default: none");
    rotate->add_option("--file", o->file, "write a credentials file holding the new token (mode 0600)");
    rotate->callback([o, &g, &action] {
        action = [o, &g] {
            json body = json::object();
            if (!o->expiration.empty()) body["expiration_time"] = expiration_json(o->expiration);
            if (!o->grace.empty()) {
                const auto seconds = text::parse_duration_seconds(o->grace);
                if (!seconds) throw cli_error{"Error: --grace must be a duration such as 30m, 1h or 1d"};
                body["grace_seconds"] = *seconds;
            }
            connection c(g);
            print_new_token(
                c.call("POST", "/v1/auth/access-tokens/" + text::percent_encode(o->token_id) + "/rotate", body), o->file);
        };
    });

    auto* del = app.add_subcommand("auth_delete_access_token", "Delete an access token");
    del->add_option("id", o->token_id, "token id")->required();
    del->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            c.call("DELETE", "/v1/auth/access-tokens/" + text::percent_encode(o->token_id));
        };
    });

    auto* list = app.add_subcommand("auth_list_access_tokens", "List access tokens");
    auto* user_opt = list->add_option("--user", o->identity, "only the tokens of this user");
    list->add_flag("--self", o->self, "only the logged-in user's tokens")->excludes(user_opt);
    list->add_flag("--json", o->json_output, "print JSON instead of a table");
    list->add_flag("--show-last-used", o->show_last_used, "add a column with each token's last use");
    list->add_flag("--show-name", o->show_name, "add a column with each token's name");
    list->add_flag("--show-allowed-cidrs", o->show_allowed_cidrs, "add a column with each token's networks");
    list->add_option("--expiring-within", o->expiring_within,
                     "only enabled tokens that have not expired and expire within this long (7d, 12h, 30m)");
    list->add_option("--unused-since", o->unused_since,
                     "only tokens not used since this time (RFC 3339), including never-used ones created before it");
    list->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            std::string path = "/v1/auth/access-tokens/";
            if (o->self) path += "?user=auth_id:" + self_auth_id(c);
            else if (!o->identity.empty())
                path += "?user=" + text::percent_encode(identity_query(parse_identity_or_throw(o->identity)));
            if (!o->unused_since.empty())
                path += std::string(path.find('?') == std::string::npos ? "?" : "&") +
                        "unused_since=" + text::percent_encode(o->unused_since);
            json entries = json::array();
            for (int pages = 0; !path.empty(); ++pages) {
                if (pages > 100000) throw cli_error{"Error: the server's paging does not end"};
                const json r = c.call("GET", path);
                for (const auto& e : r.at("entries")) entries.push_back(e);
                const json& next = r.at("paging").at("next");
                path = next.is_string() ? next.get<std::string>() : "";
            }
            if (!o->expiring_within.empty()) {
                const auto seconds = text::parse_duration_seconds(o->expiring_within);
                if (!seconds) throw cli_error{"Error: --expiring-within must be a duration such as 7d, 12h or 30m"};
                const tokenauth::timestamp now = tokenauth::system_clock().now();
                const tokenauth::timestamp until = now + *seconds * 1'000'000'000;
                json kept = json::array();
                for (auto& e : entries) {
                    const json& when = e.at("expiration_time");
                    if (!when.is_string() || !e.at("enabled").get<bool>()) continue;
                    const auto t = tokenauth::parse_rfc3339(when.get<std::string>());
                    if (t && *t > now && *t <= until) kept.push_back(std::move(e));
                }
                entries = std::move(kept);
            }
            if (o->json_output) {
                print_json(json{{"entries", entries}});
                return;
            }
            const auto text_or_empty = [](const json& e, const char* key) {
                return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string();
            };
            std::vector<std::vector<std::string>> rows = {
                {"id", "user", "creator", "creation time", "expiration time", "enabled"}};
            if (o->show_last_used) rows[0].push_back("last used");
            if (o->show_name) rows[0].push_back("name");
            if (o->show_allowed_cidrs) rows[0].push_back("allowed networks");
            for (const auto& e : entries) {
                rows.push_back({e.at("id").get<std::string>(), display_identity(e.at("user")),
                                display_identity(e.at("creator")), e.at("creation_time").get<std::string>(),
                                text_or_empty(e, "expiration_time"), e.at("enabled").get<bool>() ? "True" : "False"});
                if (o->show_last_used) rows.back().push_back(text_or_empty(e, "last_used_time"));
                if (o->show_name) rows.back().push_back(text_or_empty(e, "name"));
                if (o->show_allowed_cidrs) {
                    std::string networks;
                    if (e.contains("allowed_cidrs") && e["allowed_cidrs"].is_array())
                        for (const auto& p : e["allowed_cidrs"]) networks += (networks.empty() ? "" : ",") + p.get<std::string>();
                    rows.back().push_back(networks.empty() ? "any" : networks);
                }
            }
            print_table(rows);
        };
    });
}

}  // namespace tokenauth::cli
