// End-to-end: the seed's whole walkthrough through tokenauth-cli only, against the real
// server binary.
#include <catch2/catch.hpp>
#include <tokenauth/time.hpp>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "server_process.hpp"

#ifndef TOKENAUTH_CLI_BIN
#error "TOKENAUTH_CLI_BIN must name the CLI binary"
#endif

using nlohmann::json;
using test_server::server_process;
using test_server::read_file;
using test_server::temp_dir;

namespace {

struct cli_result {
    int status;
    std::string out;
    std::string err;
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// Runs tokenauth-cli with --host/--port of the server and the given credentials file.
struct cli {
    const server_process& server;
    std::string dir;
    std::string creds;

    cli_result run(const std::vector<std::string>& args, const std::string& store = "") const {
        std::string cmd = std::string(TOKENAUTH_CLI_BIN) + " --host 127.0.0.1 --port " + std::to_string(server.port()) +
                          " --credentials-store " + quote(store.empty() ? creds : store);
        for (const auto& a : args) cmd += " " + quote(a);
        cmd += " > " + dir + "/out.txt 2> " + dir + "/err.txt < /dev/null";
        const int rc = std::system(cmd.c_str());
        return {WEXITSTATUS(rc), read_file(dir + "/out.txt"), read_file(dir + "/err.txt")};
    }
    /// Runs and requires success; returns stdout.
    std::string ok(const std::vector<std::string>& args, const std::string& store = "") const {
        const auto r = run(args, store);
        INFO("stderr: " << r.err);
        REQUIRE(r.status == 0);
        return r.out;
    }
    json ok_json(const std::vector<std::string>& args, const std::string& store = "") const {
        return json::parse(ok(args, store));
    }
};

}  // namespace

TEST_CASE("CLI walkthrough: service account, token lifecycle, rotation", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};

    // Log in as admin; the credentials file is 0600 and holds a session token.
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    struct stat st {};
    REQUIRE(::stat(q.creds.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const json cred = json::parse(read_file(q.creds));
    CHECK(cred.at("version") == 1);
    CHECK(cred.at("bearer_token").get<std::string>().rfind("session-v1:", 0) == 0);
    CHECK(q.ok_json({"who_am_i"}).at("name") == "admin");

    // Service user, role with PRIVILEGE_ACCESS_TOKENS_READ and one other privilege, assigned.
    const json user = q.ok_json({"auth_add_user", "--name", "svc-report"});
    const std::string svc_id = user.at("id");
    {
        std::ofstream f(dir.path + "/privileges.txt");
        f << "# what the reporting job needs\nPRIVILEGE_ACCESS_TOKENS_READ\n  PRIVILEGE_LOCAL_USER_READ  # users\n\n";
    }
    const json role = q.ok_json({"auth_create_role", "-r", "Reporters", "-d", "reporting job", "-p", dir.path + "/privileges.txt"});
    CHECK(role.at("privileges").size() == 2);
    q.ok({"auth_assign_role", "-r", "Reporters", "-t", "svc-report"});
    CHECK(q.ok_json({"auth_list_role", "-r", "Reporters"}).at("members")[0].at("name") == "svc-report");

    // A token for the user, expiring in 2099, written to a credentials file.
    const std::string svc_cred = dir.path + "/svc.cred";
    const json created = q.ok_json({"auth_create_access_token", "svc-report", "--expiration-time", "Jan 01 2099", "--file", svc_cred});
    const std::string first = created.at("id");
    CHECK_FALSE(created.contains("bearer_token"));  // it went to the file only
    REQUIRE(::stat(svc_cred.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const json me = q.ok_json({"who_am_i"}, svc_cred);
    CHECK(me.at("name") == "svc-report");
    CHECK(me.at("access_token_id") == first);

    // List: table and JSON, with --user in several identity forms.
    const std::string table = q.ok({"auth_list_access_tokens"});
    {
        std::istringstream lines(table);
        std::string header, rule, row;
        std::getline(lines, header);
        std::getline(lines, rule);
        std::getline(lines, row);
        CHECK(std::regex_match(header, std::regex("id +user +creator +creation time +expiration time +enabled")));
        CHECK(std::regex_match(rule, std::regex("=+  =+  =+  =+  =+  =+")));
        CHECK(row.rfind(first, 0) == 0);
        CHECK(row.find("svc-report") != std::string::npos);
        CHECK(row.find("2099-01-01T00:00:00Z") != std::string::npos);
        CHECK(row.substr(row.size() - 4) == "True");
        CHECK(rule.size() == header.size());  // columns as wide as their widest cell
        CHECK(row.find("svc-report") == header.find("user"));
    }
    for (const std::string& who : std::vector<std::string>{"svc-report", "local:svc-report", "auth_id:" + svc_id}) {
        const json listed = q.ok_json({"auth_list_access_tokens", "--user", who, "--json"});
        REQUIRE(listed.at("entries").size() == 1);
        CHECK(listed["entries"][0].at("id") == first);
    }
    const std::string sid = user.at("sid");
    CHECK(q.ok_json({"auth_list_access_tokens", "--user", "SID:" + sid, "--json"}).at("entries").size() == 1);
    CHECK(q.ok_json({"auth_list_access_tokens", "--self", "--json"}).at("entries").empty());
    // The service account can read (it holds PRIVILEGE_ACCESS_TOKENS_READ) but not create.
    CHECK(q.ok_json({"auth_get_access_token", first}, svc_cred).at("id") == first);
    auto denied = q.run({"auth_create_access_token", "--self"}, svc_cred);
    CHECK(denied.status != 0);
    CHECK(denied.err.find("Error 403: privilege_required_error:") == 0);

    // Expire it, see it refused, extend it again.
    q.ok({"auth_modify_access_token", first, "--expiration-time", "01/01/2001 00:00"});
    auto refused = q.run({"who_am_i"}, svc_cred);
    CHECK(refused.status != 0);
    CHECK(refused.err == "Error 401: access_token_expired_error: access token has expired\n");
    CHECK(q.ok_json({"auth_modify_access_token", first, "--expiration-time", "2099-01-20 12:00"}).at("expiration_time") ==
          "2099-01-20T12:00:00Z");
    CHECK(q.run({"who_am_i"}, svc_cred).status == 0);

    // Disable and enable.
    CHECK(q.ok_json({"auth_modify_access_token", first, "--disable"}).at("enabled") == false);
    CHECK(q.run({"who_am_i"}, svc_cred).err.find("access_token_disabled_error") != std::string::npos);
    CHECK(q.ok_json({"auth_modify_access_token", first, "--enable"}).at("enabled") == true);
    CHECK(q.run({"who_am_i"}, svc_cred).status == 0);

    // Rotate: a second token, switch to it, delete the first; a third is refused.
    const std::string svc_cred2 = dir.path + "/svc2.cred";
    const std::string second = q.ok_json({"auth_create_access_token", "auth_id:" + svc_id, "--file", svc_cred2}).at("id");
    const auto third = q.run({"auth_create_access_token", "svc-report"});
    CHECK(third.status != 0);
    CHECK(third.err.find("Error 409: access_token_limit_error:") == 0);
    CHECK(q.ok_json({"who_am_i"}, svc_cred2).at("access_token_id") == second);
    q.ok({"auth_delete_access_token", first});
    CHECK(q.run({"who_am_i"}, svc_cred).err.find("Error 401:") == 0);
    CHECK(q.run({"auth_get_access_token", first}).err.find("Error 404: not_found_error:") == 0);

    // Delete the last one.
    q.ok({"auth_delete_access_token", second});
    CHECK(q.run({"who_am_i"}, svc_cred2).status != 0);
    CHECK(q.ok_json({"auth_list_access_tokens", "--json"}).at("entries").empty());

    // Logout forgets the credentials.
    q.ok({"logout"});
    CHECK(::stat(q.creds.c_str(), &st) != 0);
    CHECK(q.run({"who_am_i"}).err.find("Error 401: authentication_required_error") == 0);
}

TEST_CASE("CLI users, groups, roles and privileges commands", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    q.ok({"auth_add_user", "--name", "dave", "-p", "dave-pw"});
    q.ok({"auth_add_group", "--name", "backup-ops"});
    bool found = false;
    for (const auto& grp : q.ok_json({"auth_list_groups"})) found |= grp.at("name") == "backup-ops";
    CHECK(found);
    q.ok({"auth_mod_user", "--name", "dave", "--add-group", "backup-ops"});
    q.ok({"auth_assign_role", "-r", "Observers", "-t", "local:backup-ops"});
    const std::string dave_cred = dir.path + "/dave.cred";
    q.ok({"login", "-u", "dave", "-p", "dave-pw"}, dave_cred);
    CHECK(q.ok_json({"who_am_i"}, dave_cred).at("privileges").size() == 63);
    q.ok({"auth_unassign_role", "-r", "Observers", "-t", "backup-ops"});
    CHECK(q.ok_json({"who_am_i"}, dave_cred).at("privileges").empty());
    q.ok({"auth_mod_user", "--name", "dave", "--remove-group", "backup-ops"});
    q.ok({"auth_set_password", "--name", "dave", "-p", "dave-pw-2"});
    CHECK(q.run({"who_am_i"}, dave_cred).err.find("session_ended_error") != std::string::npos);
    CHECK(q.ok_json({"auth_list_privileges"}).size() == 127);
    CHECK(q.ok_json({"auth_list_roles"}).contains("Administrators"));
    CHECK(q.ok_json({"auth_list_users"}).size() == 3);
    q.ok({"auth_delete_user", "--name", "dave"});
    CHECK(q.ok_json({"auth_list_users"}).size() == 2);

    // A privileges file with an unknown name is refused before anything is created.
    {
        std::ofstream f(dir.path + "/bad.txt");
        f << "PRIVILEGE_ACCESS_TOKENS_READ\nPRIVILEGE_MADE_UP\n";
    }
    const auto bad = q.run({"auth_create_role", "-r", "Bad", "-d", "x", "-p", dir.path + "/bad.txt"});
    CHECK(bad.status != 0);
    CHECK(bad.err.find("PRIVILEGE_MADE_UP") != std::string::npos);
    CHECK_FALSE(q.ok_json({"auth_list_roles"}).contains("Bad"));
}

TEST_CASE("CLI identity forms, long table cells and bad input", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    const std::string long_name = "service-account-with-a-rather-long-name-for-the-table";
    const json u = q.ok_json({"auth_add_user", "--name", long_name});
    q.ok({"auth_create_access_token", "SID:" + u.at("sid").get<std::string>()});
    q.ok({"auth_create_access_token", "--self", "--expiration-time", "1/20/2099"});
    const std::string table = q.ok({"auth_list_access_tokens"});
    std::istringstream lines(table);
    std::string header, rule, row1, row2;
    std::getline(lines, header);
    std::getline(lines, rule);
    std::getline(lines, row1);
    std::getline(lines, row2);
    // The user column is as wide as the long name; every row lines up under the rule.
    const std::size_t user_col = header.find("user");
    const std::size_t creator_col = header.find("creator");
    CHECK(creator_col - user_col == long_name.size() + 2);
    CHECK(row1.substr(user_col, long_name.size()) == long_name);
    CHECK(row2.substr(user_col, 5) == "admin");
    CHECK(row2.find("2099-01-20T00:00:00Z") != std::string::npos);

    // Bad input: unknown command, bad time, bad identity, unreadable credentials, no server.
    CHECK(q.run({"no_such_command"}).status != 0);
    auto r = q.run({"auth_create_access_token", "--self", "--expiration-time", "Feb 30 2024"});
    CHECK(r.status != 0);
    CHECK(r.err == "Error: invalid expiration time 'Feb 30 2024': day does not exist in that month\n");
    r = q.run({"auth_create_access_token", "bogus:prefix"});
    CHECK(r.status != 0);
    CHECK(r.err.find("invalid identity") != std::string::npos);
    {
        std::ofstream f(dir.path + "/garbage.cred");
        f << "not json";
    }
    r = q.run({"who_am_i"}, dir.path + "/garbage.cred");
    CHECK(r.status != 0);
    CHECK(r.err == "Error: credentials file " + dir.path + "/garbage.cred is not valid JSON; log in again\n");
    {
        std::ofstream f(dir.path + "/v2.cred");
        f << R"({"bearer_token": "x", "version": 2})";
    }
    CHECK(q.run({"who_am_i"}, dir.path + "/v2.cred").err.find("unsupported version") != std::string::npos);
    ::mkdir((dir.path + "/dir.cred").c_str(), 0700);
    r = q.run({"who_am_i"}, dir.path + "/dir.cred");
    CHECK(r.status != 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    const std::string no_server = std::string(TOKENAUTH_CLI_BIN) + " --host 127.0.0.1 --port 1 --credentials-store " +
                                  dir.path + "/none who_am_i 2> " + dir.path + "/err.txt";
    CHECK(WEXITSTATUS(std::system(no_server.c_str())) == 1);
    CHECK(read_file(dir.path + "/err.txt") == "Error: cannot connect to the server (127.0.0.1:1)\n");
    CHECK(q.run({"auth_create_access_token", "--help"}).out.find("--expiration-time") != std::string::npos);
}

TEST_CASE("CLI qq parity: version, single user/group, group and role changes, identities, change_password",
          "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});

    CHECK(q.ok_json({"version"}).at("revision_id").get<std::string>().find("5.3.0") != std::string::npos);

    // auth_create_role without -d (qq sends "No description") and without -p.
    json role = q.ok_json({"auth_create_role", "-r", "Auditors"});
    CHECK(role.at("description") == "No description");
    CHECK(role.at("privileges").empty());
    role = q.ok_json({"auth_modify_role", "-r", "Auditors", "-G", "PRIVILEGE_LOCAL_USER_READ", "-G",
                      "PRIVILEGE_ROLE_READ", "-d", "reads users and roles"});
    CHECK(role.at("description") == "reads users and roles");
    CHECK(role.at("privileges") == json{"PRIVILEGE_LOCAL_USER_READ", "PRIVILEGE_ROLE_READ"});
    role = q.ok_json({"auth_modify_role", "-r", "Auditors", "-R", "PRIVILEGE_ROLE_READ"});
    CHECK(role.at("privileges") == json{"PRIVILEGE_LOCAL_USER_READ"});
    CHECK(role.at("description") == "reads users and roles");  // unchanged without -d
    CHECK(q.run({"auth_modify_role", "-r", "Auditors", "-G", "PRIVILEGE_NOPE"}).status != 0);
    q.ok({"auth_delete_role", "-r", "Auditors"});
    CHECK(q.ok({"auth_list_roles"}).find("Auditors") == std::string::npos);

    // Groups by name or id: list, modify, delete.
    const json group = q.ok_json({"auth_add_group", "--name", "crew"});
    CHECK(q.ok_json({"auth_list_group", "--id", "crew"}).at("id") == group.at("id"));
    CHECK(q.ok_json({"auth_list_group", "--id", group.at("id").get<std::string>()}).at("name") == "crew");
    json changed = q.ok_json({"auth_mod_group", "--id", "crew", "--name", "crew2", "--gid", "4242"});
    CHECK(changed.at("name") == "crew2");
    CHECK(changed.at("gid") == "4242");
    changed = q.ok_json({"auth_mod_group", "--id", "crew2", "--gid", "none"});
    CHECK(changed.at("gid") == "");
    CHECK(changed.at("name") == "crew2");
    q.ok({"auth_delete_group", "--id", "crew2"});
    CHECK(q.run({"auth_list_group", "--id", group.at("id").get<std::string>()}).status != 0);

    // One user by name or id.
    const json user = q.ok_json({"auth_add_user", "--name", "carol", "-p", "carol-password-1"});
    CHECK(q.ok_json({"auth_list_user", "--id", "carol"}).at("id") == user.at("id"));
    CHECK(q.ok_json({"auth_list_user", "--id", user.at("id").get<std::string>()}).at("name") == "carol");

    // Identities: positional or by flags.
    // Without --json, qq's plain forms; with it, the server's JSON.
    const std::string carol_id = user.at("id").get<std::string>();
    CHECK(q.ok({"auth_find_identity", "local:carol"}) ==
          "domain: LOCAL\nname: carol\nauth_id: " + carol_id + "\nSID: " + user.at("sid").get<std::string>() + "\n");
    CHECK(q.ok_json({"auth_find_identity", "--name", "carol", "--json"}).at("auth_id") == user.at("id"));
    CHECK(q.ok_json({"auth_find_identity", "--auth-id", carol_id, "--json"}).at("name") == "carol");
    const json expanded = q.ok_json({"auth_expand_identity", "auth_id:" + carol_id, "--json"});
    CHECK(expanded.at("id").at("auth_id") == carol_id);
    const std::string plain = q.ok({"auth_expand_identity", "--name", "carol"});
    CHECK(plain.rfind("Identity:    carol (auth_id:" + carol_id + ")\nType:        User\nNFS Mapping: None\n", 0) == 0);
    CHECK(plain.find("\nEquivalent Identities:\nNone\n\nGroup Membership:\nName   ID\n") != std::string::npos);
    CHECK(plain.find("Users  auth_id:513") != std::string::npos);
    CHECK(q.run({"auth_find_identity"}).status != 0);

    // change_password: the user's own; the CLI stays logged in with the fresh session.
    const std::string carol = dir.path + "/carol.cred";
    q.ok({"login", "-u", "carol", "-p", "carol-password-1"}, carol);
    CHECK(q.run({"change_password", "-o", "wrong", "-p", "carol-password-2"}, carol).status != 0);
    q.ok({"change_password", "-o", "carol-password-1", "-p", "carol-password-2"}, carol);
    CHECK(q.ok_json({"who_am_i"}, carol).at("name") == "carol");
    CHECK(q.run({"login", "-u", "carol", "-p", "carol-password-1"}, carol).status != 0);
    q.ok({"login", "-u", "carol", "-p", "carol-password-2"}, carol);

    // end_other_sessions: carol's other session ends, this one goes on with its successor.
    const std::string carol2 = dir.path + "/carol2.cred";
    q.ok({"login", "-u", "carol", "-p", "carol-password-2"}, carol2);
    q.ok({"end_other_sessions"}, carol);
    CHECK(q.ok_json({"who_am_i"}, carol).at("name") == "carol");
    CHECK(q.run({"who_am_i"}, carol2).status != 0);
    // auth_end_user_sessions: an administrator ends all of them.
    q.ok({"auth_end_user_sessions", "--name", "carol"});
    CHECK(q.run({"who_am_i"}, carol).status != 0);
    CHECK(q.run({"auth_end_user_sessions", "--name", "nobody-here"}).status != 0);
}

TEST_CASE("CLI scoped tokens, last-used column and unused filter", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    q.ok_json({"auth_add_user", "--name", "svc"});
    {
        std::ofstream f(dir.path + "/all.txt");
        f << "PRIVILEGE_ACCESS_TOKENS_READ\nPRIVILEGE_LOCAL_USER_READ\n";
        std::ofstream g(dir.path + "/narrow.txt");
        g << "# only users\nPRIVILEGE_LOCAL_USER_READ\n";
    }
    q.ok_json({"auth_create_role", "-r", "Svc", "-d", "svc", "-p", dir.path + "/all.txt"});
    q.ok({"auth_assign_role", "-r", "Svc", "-t", "svc"});
    const std::string svc_cred = dir.path + "/svc.cred";
    const json created = q.ok_json({"auth_create_access_token", "svc", "--privileges-file", dir.path + "/narrow.txt", "--file", svc_cred});
    const std::string id = created.at("id");
    CHECK(q.ok_json({"auth_get_access_token", id}).at("privileges") == json{"PRIVILEGE_LOCAL_USER_READ"});
    CHECK(q.ok_json({"who_am_i"}, svc_cred).at("privileges") == json{"PRIVILEGE_LOCAL_USER_READ"});
    CHECK(q.run({"auth_list_access_tokens"}, svc_cred).status != 0);  // the scope lacks ACCESS_TOKENS_READ

    // The default table stays qq's; --show-last-used adds the column, filled after the use.
    const std::string table = q.ok({"auth_list_access_tokens"});
    CHECK(table.find("last used") == std::string::npos);
    CHECK(table.rfind("id", 0) == 0);
    const json listed = q.ok_json({"auth_list_access_tokens", "--json"});
    REQUIRE(listed.at("entries")[0].at("last_used_time").is_string());
    const std::string with = q.ok({"auth_list_access_tokens", "--show-last-used"});
    CHECK(with.find("last used") != std::string::npos);
    CHECK(with.find(listed.at("entries")[0].at("last_used_time").get<std::string>() + "\n") != std::string::npos);
    CHECK(q.ok_json({"auth_list_access_tokens", "--json", "--unused-since", "2000-01-01T00:00:00Z"}).at("entries").empty());
    CHECK(q.ok_json({"auth_list_access_tokens", "--json", "--unused-since", "2200-01-01T00:00:00Z"}).at("entries").size() == 1);
    CHECK(q.run({"auth_create_access_token", "svc", "--privileges-file", dir.path + "/missing.txt"}).status != 0);
}

TEST_CASE("CLI token names: --name on create and modify, --clear-name, --show-name", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    q.ok_json({"auth_add_user", "--name", "svc"});
    const std::string id = q.ok_json({"auth_create_access_token", "svc", "--name", "nightly backup"}).at("id");
    CHECK(q.ok_json({"auth_get_access_token", id}).at("name") == "nightly backup");
    const std::string plain = q.ok({"auth_list_access_tokens"});
    CHECK(plain.find("nightly backup") == std::string::npos);  // qq's table unless asked
    const std::string named = q.ok({"auth_list_access_tokens", "--show-name"});
    CHECK(named.find("name") != std::string::npos);
    CHECK(named.find("nightly backup\n") != std::string::npos);
    CHECK(q.ok_json({"auth_modify_access_token", id, "--name", "weekly backup"}).at("name") == "weekly backup");
    CHECK(q.ok_json({"auth_modify_access_token", id, "--clear-name"}).at("name").is_null());
    CHECK(q.run({"auth_modify_access_token", id, "--name", "x", "--clear-name"}).status != 0);
    const auto refused = q.run({"auth_modify_access_token", id, "--name", std::string(101, 'x')});
    CHECK(refused.status != 0);
    CHECK(q.ok_json({"auth_get_access_token", id}).at("name").is_null());
}

TEST_CASE("CLI network bounds: --allowed-cidr on create and modify, --clear-allowed-cidrs, --show-allowed-cidrs",
          "[cli][cidrs]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    q.ok_json({"auth_add_user", "--name", "svc"});
    const std::string id =
        q.ok_json({"auth_create_access_token", "svc", "--allowed-cidr", "10.0.0.0/8", "--allowed-cidr", "2001:db8::/32"}).at("id");
    CHECK(q.ok_json({"auth_get_access_token", id}).at("allowed_cidrs") == json{"10.0.0.0/8", "2001:db8::/32"});
    const std::string table = q.ok({"auth_list_access_tokens", "--show-allowed-cidrs"});
    CHECK(table.find("allowed networks") != std::string::npos);
    CHECK(table.find("10.0.0.0/8,2001:db8::/32\n") != std::string::npos);
    CHECK(q.ok_json({"auth_modify_access_token", id, "--allowed-cidr", "192.0.2.0/24"}).at("allowed_cidrs") ==
          json{"192.0.2.0/24"});
    CHECK(q.ok_json({"auth_modify_access_token", id, "--clear-allowed-cidrs"}).at("allowed_cidrs").is_null());
    CHECK(q.ok({"auth_list_access_tokens", "--show-allowed-cidrs"}).find("any\n") != std::string::npos);
    const auto refused = q.run({"auth_modify_access_token", id, "--allowed-cidr", "10.0.0.1/8"});
    CHECK(refused.status != 0);
    CHECK(refused.err.find("allowed_cidrs") != std::string::npos);
}

TEST_CASE("CLI auth_rotate_access_token: the service rotates its own token into a new file, with grace", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    q.ok_json({"auth_add_user", "--name", "svc"});
    const std::string old_cred = dir.path + "/old.cred", new_cred = dir.path + "/new.cred";
    const std::string old_id =
        q.ok_json({"auth_create_access_token", "svc", "--name", "etl", "--file", old_cred}).at("id");
    // The service itself, with its own credentials file: no privilege needed to rotate itself.
    const json r = q.ok_json({"auth_rotate_access_token", old_id, "--grace", "1h", "--file", new_cred}, old_cred);
    CHECK_FALSE(r.contains("bearer_token"));  // in the file only
    CHECK(r.at("rotated_from") == old_id);
    CHECK(r.at("predecessor_enabled") == true);
    struct stat st {};
    REQUIRE(::stat(new_cred.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(q.ok_json({"who_am_i"}, new_cred).at("access_token_id") == r.at("id"));
    CHECK(q.ok_json({"who_am_i"}, old_cred).at("name") == "svc");  // still, during the grace
    CHECK(q.ok_json({"auth_get_access_token", r.at("id")}).at("name") == "etl");
    CHECK(q.ok_json({"auth_get_access_token", old_id}).at("rotated_to") == r.at("id"));
    CHECK(q.run({"auth_rotate_access_token", old_id, "--grace", "soon"}).status != 0);
    // Rotating the old one again: reuse; the new one stops working too.
    const auto again = q.run({"auth_rotate_access_token", old_id}, old_cred);
    CHECK(again.status != 0);
    CHECK(q.run({"who_am_i"}, new_cred).status != 0);
}

TEST_CASE("CLI auth_list_access_tokens --expiring-within: enabled tokens expiring in the window only", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    q.ok_json({"auth_add_user", "--name", "a"});
    q.ok_json({"auth_add_user", "--name", "b"});
    const auto in_days = [](int days) {
        return tokenauth::format_rfc3339(tokenauth::system_clock().now() + tokenauth::timestamp{days} * 86'400'000'000'000);
    };
    const std::string soon = q.ok_json({"auth_create_access_token", "a", "-e", in_days(2)}).at("id");
    q.ok_json({"auth_create_access_token", "a", "-e", in_days(20)});
    const std::string off = q.ok_json({"auth_create_access_token", "b", "-e", in_days(2)}).at("id");
    q.ok_json({"auth_modify_access_token", off, "--disable"});
    q.ok_json({"auth_create_access_token", "b"});
    const json listed = q.ok_json({"auth_list_access_tokens", "--json", "--expiring-within", "7d"});
    REQUIRE(listed.at("entries").size() == 1);
    CHECK(listed.at("entries")[0].at("id") == soon);
    CHECK(q.ok_json({"auth_list_access_tokens", "--json", "--expiring-within", "30d"}).at("entries").size() == 2);
    CHECK(q.run({"auth_list_access_tokens", "--expiring-within", "soon"}).status != 0);
}

TEST_CASE("CLI scan finds tokens by checksum, skips .git and binaries, and can revoke", "[cli]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const cli q{s, dir.path, dir.path + "/admin.cred"};
    q.ok({"login", "-u", "admin", "-p", test_server::admin_password});
    q.ok_json({"auth_add_user", "--name", "svc"});
    const std::string cred = dir.path + "/svc.cred";
    const std::string id = q.ok_json({"auth_create_access_token", "svc", "--file", cred}).at("id");
    const std::string bearer = json::parse(read_file(cred)).at("bearer_token");
    std::string corrupt = bearer;
    corrupt[20] = corrupt[20] == 'A' ? 'B' : 'A';  // checksum no longer matches

    const std::string tree = dir.path + "/tree";
    ::mkdir(tree.c_str(), 0700);
    ::mkdir((tree + "/.git").c_str(), 0700);
    ::mkdir((tree + "/src").c_str(), 0700);
    {
        std::ofstream(tree + "/src/config.yaml") << "name: x\n  token: \"" << bearer << "\"\nother: " << corrupt << "\n";
        std::ofstream(tree + "/.git/packed") << bearer << "\n";
        std::ofstream bin(tree + "/blob.bin", std::ios::binary);
        bin << std::string("\0\1\2", 3) << bearer;
        std::ofstream(tree + "/clean.txt") << "access-v1: nothing here\n";
    }
    auto r = q.run({"scan", tree});
    CHECK(r.status == 1);
    CHECK(r.out == tree + "/src/config.yaml:2:11: access token " + id + "\n");
    CHECK(r.out.find(bearer.substr(10)) == std::string::npos);  // never the secret
    CHECK(q.run({"scan", tree + "/clean.txt"}).status == 0);
    CHECK(q.run({"scan", tree + "/nope"}).status != 0);
    // Standard input.
    const std::string stdin_cmd = std::string(TOKENAUTH_CLI_BIN) + " scan - < " + tree + "/src/config.yaml > " + dir.path + "/o.txt";
    CHECK(WEXITSTATUS(std::system(stdin_cmd.c_str())) == 1);
    CHECK(read_file(dir.path + "/o.txt") == "<stdin>:2:11: access token " + id + "\n");

    // --revoke reports it; the token is disabled.
    r = q.run({"scan", "--revoke", tree});
    CHECK(r.status == 1);
    CHECK(r.out.find("reported 1 token(s)") != std::string::npos);
    CHECK(q.ok_json({"auth_get_access_token", id}).at("enabled") == false);
}
