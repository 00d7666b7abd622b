// tokenauth-cli: roles, role members and privileges (qq's names, flags and output).
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "common.hpp"

namespace tokenauth::cli {

namespace {

struct options {
    std::string role;
    std::string description;
    std::string privileges_file;
    std::string trustee;
    std::vector<std::string> grant;
    std::vector<std::string> revoke;
    bool description_given = false;
};

/// Privilege names known to the server; every name must be one (qq checks the same way).
void check_privileges(connection& c, const std::vector<std::string>& names, const std::string& source) {
    const json known = c.call("GET", "/v1/auth/privileges/");
    for (const auto& n : names)
        if (!known.contains(n)) throw cli_error{"Error: unknown privilege '" + n + "' in " + source};
}

}  // namespace

void add_role_commands(CLI::App& app, const globals& g, action_slot& action) {
    const auto o = std::make_shared<options>();
    auto* create_role = app.add_subcommand("auth_create_role", "Create a role");
    create_role->add_option("-r,--role", o->role, "role name")->required();
    create_role->add_option("-d,--description", o->description, "description (default: \"No description\", as qq)");
    create_role->add_option("-p,--privileges,--privileges-file", o->privileges_file,
                            "file of privilege names, one per line ('#' comments; default: none)");
    create_role->callback([o, &g, &action] {
        action = [o, &g] {
            const auto names = o->privileges_file.empty() ? std::vector<std::string>{} : read_privileges_file(o->privileges_file);
            connection c(g);
            check_privileges(c, names, o->privileges_file);
            const std::string description = o->description.empty() ? "No description" : o->description;
            print_json(c.call("POST", "/v1/auth/roles/",
                              json{{"name", o->role}, {"description", description}, {"privileges", names}}));
        };
    });
    auto* modify_role = app.add_subcommand("auth_modify_role", "Modify a custom role");
    modify_role->add_option("-r,--role", o->role, "role name")->required();
    auto* description = modify_role->add_option("-d,--description", o->description, "new description");
    auto* file = modify_role->add_option("-p,--privileges-file", o->privileges_file,
                                         "replace the role's privileges with the names in this file");
    modify_role->add_option("-G,--grant", o->grant, "privilege to add (may be repeated)")->excludes(file);
    modify_role->add_option("-R,--revoke", o->revoke, "privilege to remove (may be repeated)")->excludes(file);
    modify_role->callback([o, &g, &action, description] {
        o->description_given = description->count() > 0;
        action = [o, &g] {
            connection c(g);
            const std::string path = "/v1/auth/roles/" + text::percent_encode(o->role);
            json patch = json::object();
            if (o->description_given) patch["description"] = o->description;
            if (!o->privileges_file.empty() || !o->grant.empty() || !o->revoke.empty()) {
                std::vector<std::string> names;
                if (!o->privileges_file.empty()) {
                    names = read_privileges_file(o->privileges_file);
                } else {
                    const json current = c.call("GET", path);  // kept alive: the loop reads into it
                    for (const auto& p : current.at("privileges")) names.push_back(p.get<std::string>());
                    for (const auto& p : o->grant)
                        if (std::find(names.begin(), names.end(), p) == names.end()) names.push_back(p);
                    for (const auto& p : o->revoke) names.erase(std::remove(names.begin(), names.end(), p), names.end());
                }
                check_privileges(c, names, o->privileges_file.empty() ? "--grant/--revoke" : o->privileges_file);
                patch["privileges"] = names;
            }
            if (patch.empty()) throw cli_error{"Error: nothing to modify: give -d, -p, -G or -R"};
            print_json(c.call("PATCH", path, patch));
        };
    });
    auto* delete_role = app.add_subcommand("auth_delete_role", "Delete a custom role");
    delete_role->add_option("-r,--role", o->role, "role name")->required();
    delete_role->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            c.call("DELETE", "/v1/auth/roles/" + text::percent_encode(o->role));
        };
    });
    app.add_subcommand("auth_list_roles", "List roles")->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/auth/roles/"));
        };
    });
    auto* list_role = app.add_subcommand("auth_list_role", "Show a role and its members");
    list_role->add_option("-r,--role", o->role, "role name")->required();
    list_role->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            const std::string path = "/v1/auth/roles/" + text::percent_encode(o->role);
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
    assign->add_option("-r,--role", o->role, "role name")->required();
    assign->add_option("-t,--trustee", o->trustee, "user or group identity")->required();
    assign->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            c.call("POST", "/v1/auth/roles/" + text::percent_encode(o->role) + "/members",
                   tokenauth::identity_to_json(parse_identity_or_throw(o->trustee)));
        };
    });
    auto* unassign = app.add_subcommand("auth_unassign_role", "Remove a role from a user or group");
    unassign->add_option("-r,--role", o->role, "role name")->required();
    unassign->add_option("-t,--trustee", o->trustee, "user or group identity")->required();
    unassign->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            const json found = c.call("POST", "/v1/identity/find", tokenauth::identity_to_json(parse_identity_or_throw(o->trustee)));
            c.call("DELETE", "/v1/auth/roles/" + text::percent_encode(o->role) + "/members/" +
                                 found.at("auth_id").get<std::string>());
        };
    });
    app.add_subcommand("auth_list_privileges", "List every privilege with its description")->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/auth/privileges/"));
        };
    });
}

}  // namespace tokenauth::cli
