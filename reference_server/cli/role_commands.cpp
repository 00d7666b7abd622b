// tokenauth-cli: roles, role members and privileges (qq's names, flags and output).
#include <unistd.h>

#include <iostream>

#include "common.hpp"

namespace tokenauth::cli {

namespace {

struct options {
    std::string role;
    std::string description;
    std::string privileges_file;
    std::string trustee;
};

}  // namespace

void add_role_commands(CLI::App& app, const globals& g, action_slot& action) {
    const auto o = std::make_shared<options>();
    auto* create_role = app.add_subcommand("auth_create_role", "Create a role");
    create_role->add_option("-r,--role", o->role, "role name")->required();
    create_role->add_option("-d,--description", o->description, "description")->required();
    create_role->add_option("-p,--privileges", o->privileges_file, "file of privilege names, one per line ('#' comments)")
        ->required();
    create_role->callback([o, &g, &action] {
        action = [o, &g] {
            const auto names = read_privileges_file(o->privileges_file);
            connection c(g);
            const json known = c.call("GET", "/v1/auth/privileges/");
            for (const auto& n : names)
                if (!known.contains(n)) throw cli_error{"Error: unknown privilege '" + n + "' in " + o->privileges_file};
            print_json(c.call("POST", "/v1/auth/roles/", json{{"name", o->role}, {"description", o->description}, {"privileges", names}}));
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
