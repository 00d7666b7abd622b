// tokenauth-cli: the qq commands of the access-token documentation, against any server that
// speaks this REST API (the reference server, or Qumulo Core). Same command names, flags and
// output shapes as qq; no Python needed. Each command group lives in its own file.
#include <iostream>

#include "build_info.hpp"
#include "common.hpp"

using namespace tokenauth::cli;

int main(int argc, char** argv) {
    globals g;
    g.credentials_store = default_credentials_store();
    CLI::App app{"tokenauth-cli: qq-compatible commands for access tokens, users, groups and roles"};
    app.set_version_flag("--version", std::string("tokenauth-cli ") + tokenauth::server::build::version);
    app.require_subcommand(1);
    app.fallthrough(false);
    app.footer(
        "TLS: without --ca-cert the server's certificate is not verified (like qq; the reference server\n"
        "uses a self-signed certificate). Give --ca-cert PATH to verify it.\n"
        "Times for --expiration-time: 'Jan 01 2023', '01/01/2023 00:00', '1/20/2024', '2024-01-20 12:00' or\n"
        "RFC 3339; times without a zone are UTC. Identities: NAME, local:NAME, ad:NAME, auth_id:N, uid:N,\n"
        "gid:N, SID:S-1-..., a bare SID, DOMAIN\\NAME.");
    app.add_option("--host", g.host, "server address (required by every command but scan)");
    app.add_option("--port", g.port, "server port")->capture_default_str();
    app.add_option("--credentials-store", g.credentials_store, "credentials file")->capture_default_str();
    app.add_option("--ca-cert", g.ca_cert, "verify the server certificate with this CA file (PEM)");

    action_slot action;
    add_session_commands(app, g, action);
    add_token_commands(app, g, action);
    add_user_group_commands(app, g, action);
    add_role_commands(app, g, action);
    add_identity_commands(app, g, action);
    add_scan_command(app, g, action);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (action) action();
        return 0;
    } catch (const exit_status& e) {
        return e.code;
    } catch (const cli_error& e) {
        std::cerr << e.message << "\n";
    } catch (const json::exception& e) {
        std::cerr << "Error: unexpected response from the server (" << e.what() << ")\n";
    } catch (const std::exception& e) {
        std::cerr << "Error: " << e.what() << "\n";
    }
    return 1;
}
