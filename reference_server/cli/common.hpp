// tokenauth-cli: what every command group shares: errors, global options, the connection,
// credentials files, output formatting and name lookups. The CLI is its own program: it
// links the tokenauth library and cpp-httplib, nothing of the server.
#pragma once

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <tokenauth/identity.hpp>
#include <tokenauth/identity_json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../text.hpp"

namespace tokenauth::cli {

using nlohmann::json;
namespace text = tokenauth::server::text;

/// A failure to report as one line on stderr; exit status 1.
struct cli_error {
    std::string message;
};

/// Ends the program with this status and no message (scan: 1 when it found tokens).
struct exit_status {
    int code;
};

/// The options before the command name.
struct globals {
    std::string host;
    int port = 8000;
    std::string credentials_store;
    std::string ca_cert;
};

/// What the chosen command will do, set by its callback and run after parsing.
using action_slot = std::function<void()>;

// credentials.cpp
std::string default_credentials_store();
/// Writes {"bearer_token": ..., "version": 1} with mode 0600 (atomically: temp file + rename).
void write_credentials(const std::string& path, const std::string& bearer);
/// The bearer token of a credentials file; "" when the file does not exist.
std::string read_credentials(const std::string& path);

// client.cpp
/// One kept-alive HTTPS connection for the whole command, like qq.
class connection {
public:
    explicit connection(const globals& g, bool authenticate = true);
    /// Sends a request; returns the parsed JSON body (null when empty); throws cli_error
    /// with "Error <status>: <class>: <description>" for a non-2xx answer.
    json call(const std::string& method, const std::string& path, const std::optional<json>& body = std::nullopt);

private:
    const globals& g_;
    httplib::SSLClient client_;
    std::string bearer_;
};

// format.cpp
void print_json(const json& j);
/// Prints rows as columns two spaces apart, with a '=' rule under the header.
void print_table(const std::vector<std::vector<std::string>>& rows);
/// A name (or auth_id:N) for an identity object, for tables.
std::string display_identity(const json& id);
/// Reads a password from the terminal without echo (or a line from stdin if not a tty).
std::string prompt_password(const char* prompt);

// lookup.cpp
tokenauth::api_identity parse_identity_or_throw(const std::string& s);
/// An identity as the `user=` query parameter carries it (prefixes local:/ad: dropped).
std::string identity_query(const tokenauth::api_identity& id);
/// An expiration typed by a user, as RFC 3339 UTC with offset; "never" clears it.
json expiration_json(const std::string& text);
std::string self_auth_id(connection& c);
/// Resolves a user given by --id or --name to its id.
std::string user_id(connection& c, const std::string& id, const std::string& name);
/// Resolves a user given as one value, an id (digits) or a name, to its id (qq's --id).
std::string user_id(connection& c, const std::string& id_or_name);
/// Resolves a group given by id or name to its id.
std::string group_id(connection& c, const std::string& group);
/// The privilege names of a privileges file (see tokenauth::parse_privilege_list).
std::vector<std::string> read_privileges_file(const std::string& path);

// One file per command group.
void add_session_commands(CLI::App& app, const globals& g, action_slot& action);
void add_token_commands(CLI::App& app, const globals& g, action_slot& action);
void add_user_group_commands(CLI::App& app, const globals& g, action_slot& action);
void add_role_commands(CLI::App& app, const globals& g, action_slot& action);
void add_identity_commands(CLI::App& app, const globals& g, action_slot& action);
void add_scan_command(CLI::App& app, const globals& g, action_slot& action);

}  // namespace tokenauth::cli
