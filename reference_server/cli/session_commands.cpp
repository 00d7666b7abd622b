// tokenauth-cli: login, logout, who_am_i (qq's names, flags and output), change_password and
// end_other_sessions.
#include <unistd.h>

#include <iostream>

#include "common.hpp"

namespace tokenauth::cli {

namespace {

struct options {
    std::string user;
    std::string password;
    std::string old_password;
    std::string new_password;
};

}  // namespace

void add_session_commands(CLI::App& app, const globals& g, action_slot& action) {
    const auto o = std::make_shared<options>();
    auto* login = app.add_subcommand("login", "Log in and store the session in the credentials file");
    login->add_option("-u,--username", o->user, "user name")->required();
    login->add_option("-p,--password", o->password, "password (prompted without echo when absent)");
    login->callback([o, &g, &action] {
        action = [o, &g] {
            if (o->password.empty()) o->password = prompt_password("Password: ");
            connection c(g, false);
            const json r = c.call("POST", "/v1/session/login", json{{"username", o->user}, {"password", o->password}});
            write_credentials(g.credentials_store, r.at("bearer_token").get<std::string>());
        };
    });
    app.add_subcommand("logout", "Forget the stored credentials")->callback([o, &g, &action] {
        action = [o, &g] { ::unlink(g.credentials_store.c_str()); };
    });
    app.add_subcommand("who_am_i", "Show the authenticated user")->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            print_json(c.call("GET", "/v1/session/who-am-i"));
        };
    });
    app.add_subcommand("version", "Print the server's version information")->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g, false);
            print_json(c.call("GET", "/v1/version"));
        };
    });
    app.add_subcommand("end_other_sessions", "End your other sessions (signed in with a session, this one goes on)")
        ->callback([o, &g, &action] {
            action = [o, &g] {
                connection c(g);
                const json r = c.call("POST", "/v1/session/end-others");
                // The stored session ended with the others; the server sent its successor.
                if (r.is_object() && r.contains("bearer_token") && r.at("bearer_token").is_string())
                    write_credentials(g.credentials_store, r.at("bearer_token").get<std::string>());
            };
        });
    auto* change = app.add_subcommand("change_password", "Change your password");
    change->add_option("-o,--old-password", o->old_password, "your old password (insecure: visible in ps)");
    change->add_option("-p,--new-password", o->new_password, "your new password (insecure: visible in ps)");
    change->callback([o, &g, &action] {
        action = [o, &g] {
            connection c(g);
            if (o->old_password.empty()) o->old_password = prompt_password("Old password: ");
            if (o->new_password.empty()) {
                o->new_password = prompt_password("New password: ");
                if (prompt_password("Confirm new password: ") != o->new_password)
                    throw cli_error{"Error: the new passwords do not match"};
            }
            const json r = c.call("POST", "/v1/session/change-password",
                                  json{{"old_password", o->old_password}, {"new_password", o->new_password}});
            // This server ends every session of the user, the caller's too, and sends a fresh
            // one: keep the CLI logged in with it.
            if (r.is_object() && r.contains("bearer_token"))
                write_credentials(g.credentials_store, r.at("bearer_token").get<std::string>());
        };
    });
}

}  // namespace tokenauth::cli
