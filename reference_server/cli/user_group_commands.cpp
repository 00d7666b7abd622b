// tokenauth-cli: local users and groups (qq's names, flags and output).
#include <unistd.h>

#include <iostream>

#include "common.hpp"

namespace tokenauth::cli {

namespace {

struct options {
    std::string name;
    std::string id;
    std::string primary_group;
    std::string uid;
    std::string home;
    std::string add_group;
    std::string remove_group;
    std::string gid;
    std::string new_name;
    std::string new_gid;
    bool gid_given = false;
    std::string password;
};

}  // namespace

void add_user_group_commands(CLI::App& app, const globals& g, action_slot& action) {
    const auto o = std::make_shared<options>();
    auto* add_user = app.add_subcommand("auth_add_user", "Add a local user");
    add_user->add_option("--name", o->name, "user name")->required();
    add_user->add_option("-p,--password", o->password, "password (none: the user cannot log in)");
    add_user->add_option("-g,--primary-group", o->primary_group, "primary group id (default: Users)");
    add_user->add_option("-u,--uid", o->uid, "NFS uid");
    add_user->add_option("--home-directory", o->home, "home directory");
    add_user->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            const json r = c.call("POST", "/v1/users/",
                                  json{{"name", o->name},
                                       {"primary_group", o->primary_group.empty() ? "0" : o->primary_group},
                                       {"uid", o->uid},
                                       {"home_directory", o->home.empty() ? json(nullptr) : json(o->home)},
                                       {"password", o->password.empty() ? json(nullptr) : json(o->password)}});
            c.call("POST", "/v1/identity/expand", json{{"id", {{"auth_id", r.at("id")}}}});
            print_json(r);
        };
    });
    app.add_subcommand("auth_list_users", "List local users")->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/users/"));
        };
    });
    auto* set_pw = app.add_subcommand("auth_set_password", "Set a local user's password");
    set_pw->add_option("--id", o->id, "user id");
    set_pw->add_option("--name", o->name, "user name");
    set_pw->add_option("-p,--password", o->password, "new password (prompted when absent)");
    set_pw->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            const std::string uid_ = user_id(c, o->id, o->name);
            if (o->password.empty()) o->password = prompt_password("New password: ");
            c.call("POST", "/v1/users/" + uid_ + "/setpassword", json{{"new_password", o->password}});
        };
    });
    auto* end_sessions = app.add_subcommand("auth_end_user_sessions",
                                            "End every session of a local user (its access tokens keep working)");
    end_sessions->add_option("--id", o->id, "user id");
    end_sessions->add_option("--name", o->name, "user name");
    end_sessions->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            c.call("POST", "/v1/users/" + user_id(c, o->id, o->name) + "/sessions/end");
        };
    });
    auto* del_user = app.add_subcommand("auth_delete_user", "Delete a local user (and its access tokens)");
    del_user->add_option("--id", o->id, "user id");
    del_user->add_option("--name", o->name, "user name");
    del_user->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            c.call("DELETE", "/v1/users/" + user_id(c, o->id, o->name));
        };
    });
    auto* mod_user = app.add_subcommand("auth_mod_user", "Change a local user's group memberships");
    mod_user->add_option("--id", o->id, "user id");
    mod_user->add_option("--name", o->name, "user name");
    mod_user->add_option("--add-group", o->add_group, "add the user to this group (id or name)");
    mod_user->add_option("--remove-group", o->remove_group, "remove the user from this group (id or name)");
    mod_user->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            const std::string uid_ = user_id(c, o->id, o->name);
            if (o->add_group.empty() && o->remove_group.empty()) throw cli_error{"Error: give --add-group or --remove-group"};
            if (!o->add_group.empty()) c.call("POST", "/v1/groups/" + group_id(c, o->add_group) + "/members/", json{{"member_id", uid_}});
            if (!o->remove_group.empty()) c.call("DELETE", "/v1/groups/" + group_id(c, o->remove_group) + "/members/" + uid_);
            print_json(c.call("GET", "/v1/users/" + uid_));
        };
    });
    auto* add_grp = app.add_subcommand("auth_add_group", "Add a local group");
    add_grp->add_option("--name", o->name, "group name")->required();
    add_grp->add_option("-g,--gid", o->gid, "NFS gid");
    add_grp->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            const json r = c.call("POST", "/v1/groups/", json{{"name", o->name}, {"gid", o->gid}});
            c.call("POST", "/v1/identity/expand", json{{"id", {{"auth_id", r.at("id")}}}});
            print_json(r);
        };
    });
    app.add_subcommand("auth_list_groups", "List local groups")->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/groups/"));
        };
    });
    auto* list_user = app.add_subcommand("auth_list_user", "List a user");
    list_user->add_option("--id", o->id, "name or id of the user")->required();
    list_user->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/users/" + user_id(c, o->id)));
        };
    });
    auto* list_group = app.add_subcommand("auth_list_group", "List a group");
    list_group->add_option("--id", o->id, "name or id of the group")->required();
    list_group->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/groups/" + group_id(c, o->id)));
        };
    });
    auto* mod_group = app.add_subcommand("auth_mod_group", "Modify a group");
    mod_group->add_option("--id", o->id, "name or id of the group")->required();
    mod_group->add_option("--name", o->new_name, "the group's new name");
    auto* new_gid = mod_group->add_option("--gid", o->new_gid, "the group's NFS gid (\"none\" removes it)");
    mod_group->callback([o, &g, &action, new_gid] {
        o->gid_given = new_gid->count() > 0;
        action = [o, &g] {
            connection c(g);
            const std::string id = group_id(c, o->id);
            json group = c.call("GET", "/v1/groups/" + id);
            if (!o->new_name.empty()) group["name"] = o->new_name;
            if (o->gid_given) group["gid"] = o->new_gid == "none" ? "" : o->new_gid;
            print_json(c.call("PUT", "/v1/groups/" + id,
                              json{{"id", id}, {"name", group.at("name")}, {"gid", group.at("gid")}}));
        };
    });
    auto* delete_group = app.add_subcommand("auth_delete_group", "Delete a group");
    delete_group->add_option("--id", o->id, "name or id of the group")->required();
    delete_group->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            c.call("DELETE", "/v1/groups/" + group_id(c, o->id));
        };
    });
}

}  // namespace tokenauth::cli
