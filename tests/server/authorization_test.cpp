// Authorization and the token lifecycle (issue: no escalation by delegation, the last
// administrator, scoped tokens, last used, revocation of exposed tokens, the lifetime policy,
// the audit chain and the session key file), each through the real server binary.
#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tokenauth/time.hpp>
#include <tokenauth/token.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "api_helpers.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::read_file;
using test_server::temp_dir;
using namespace test_server::api;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) out.push_back(l);
    return out;
}

/// tokenauth-server --verify-audit DIR: exit status and output.
std::pair<int, std::string> verify_audit(const std::string& dir) {
    const std::string out = dir + "/../verify.txt";
    const int rc = std::system((std::string(TOKENAUTH_SERVER_BIN) + " --verify-audit " + dir + " > " + out + " 2>&1").c_str());
    return {WEXITSTATUS(rc), read_file(out)};
}

/// Every escalation path of the issue; returns the status each attempt got.
std::vector<int> escalation_attempts(bool qumulo) {
    temp_dir dir;
    server_process s(dir.path + "/data", qumulo ? std::vector<std::string>{"--delegation", "qumulo"}
                                                : std::vector<std::string>{});
    const std::string admin = s.login();
    // A group that holds a powerful role: joining it is a way to that role.
    auto r = s.request("POST", "/v1/groups/", admin, json{{"name", "Powerful"}, {"gid", ""}});
    REQUIRE(r.status == 200);
    const std::string powerful = r.body.at("id").get<std::string>();
    grant(s, admin, "PowerRole", {"PRIVILEGE_SMB_SHARE_WRITE", "PRIVILEGE_FILE_FULL_ACCESS"}, json{{"name", "Powerful"}});

    const std::string tw = user_with(s, admin, "tw", {"PRIVILEGE_ACCESS_TOKENS_WRITE"});
    const std::string rw = user_with(s, admin, "rw", {"PRIVILEGE_ROLE_WRITE"});
    const std::string gw = user_with(s, admin, "gw", {"PRIVILEGE_LOCAL_GROUP_WRITE"});
    const std::string uw = user_with(s, admin, "uw", {"PRIVILEGE_LOCAL_USER_WRITE", "PRIVILEGE_LOCAL_USER_READ"});
    const std::string uw_id = s.request("GET", "/v1/session/who-am-i", uw).body.at("id").get<std::string>();

    std::vector<int> got;
    // ACCESS_TOKENS_WRITE mints a token for admin.
    r = s.request("POST", "/v1/auth/access-tokens/", tw, json{{"user", {{"name", "admin"}}}});
    got.push_back(r.status);
    if (!qumulo) require_escalation(r);
    // ROLE_WRITE adds itself to Administrators.
    r = s.request("POST", "/v1/auth/roles/Administrators/members", rw, json{{"name", "rw"}});
    got.push_back(r.status);
    if (!qumulo) require_escalation(r);
    // LOCAL_GROUP_WRITE joins a group that holds a role.
    r = s.request("POST", "/v1/groups/" + powerful + "/members", gw, json{{"member_id", s.request("GET", "/v1/session/who-am-i", gw).body.at("id")}});
    got.push_back(r.status);
    if (!qumulo) require_escalation(r);
    // LOCAL_USER_WRITE moves itself into that group.
    r = s.request("PUT", "/v1/users/" + uw_id, uw,
                  json{{"id", uw_id}, {"name", "uw"}, {"primary_group", powerful}, {"uid", ""}, {"home_directory", nullptr}});
    got.push_back(r.status);
    if (!qumulo) require_escalation(r);
    // LOCAL_USER_WRITE sets admin's password (last: in qumulo mode it ends admin's sessions).
    r = s.request("POST", "/v1/users/500/setpassword", uw, json{{"new_password", "taken-over-1"}});
    got.push_back(r.status);
    if (!qumulo) require_escalation(r);
    return got;
}

}  // namespace

TEST_CASE("each escalation path is refused by default and allowed with --delegation qumulo", "[server][authz]") {
    CHECK(escalation_attempts(false) == std::vector<int>{403, 403, 403, 403, 403});
    CHECK(escalation_attempts(true) == std::vector<int>{200, 200, 200, 200, 200});
}

TEST_CASE("contained delegation: narrow tokens within what the caller holds and removal stays allowed", "[server][authz]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    const std::string tw = user_with(s, admin, "tw", {"PRIVILEGE_ACCESS_TOKENS_WRITE", "PRIVILEGE_ACCESS_TOKENS_READ"});
    // A token for admin scoped to what tw holds is fine; one step beyond is not.
    auto r = s.request("POST", "/v1/auth/access-tokens/", tw,
                       json{{"user", {{"name", "admin"}}}, {"privileges", {"PRIVILEGE_ACCESS_TOKENS_READ"}}});
    REQUIRE(r.status == 200);
    const std::string narrow = r.body.at("id").get<std::string>();
    r = s.request("POST", "/v1/auth/access-tokens/", tw,
                  json{{"user", {{"name", "admin"}}}, {"privileges", {"PRIVILEGE_ACCESS_TOKENS_READ", "PRIVILEGE_ROLE_WRITE"}}});
    require_escalation(r);
    CHECK(r.body.at("description").get<std::string>().find("PRIVILEGE_ROLE_WRITE") != std::string::npos);
    // Taking away is not escalation: tw deletes the token it could not have made unscoped.
    CHECK(s.request("DELETE", "/v1/auth/access-tokens/" + narrow, tw).status == 200);
    // A user who holds everything sees no change.
    create_user(s, admin, "svc");
    CHECK(s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", {{"name", "svc"}}}}).status == 200);
    // Setting one's own password needs nothing more.
    const std::string tw_id = s.request("GET", "/v1/session/who-am-i", tw).body.at("id").get<std::string>();
    const std::string uw = user_with(s, admin, "uw", {"PRIVILEGE_LOCAL_USER_WRITE"});
    const std::string uw_id = s.request("GET", "/v1/session/who-am-i", uw).body.at("id").get<std::string>();
    CHECK(s.request("POST", "/v1/users/" + uw_id + "/setpassword", uw, json{{"new_password", "uw-password-2"}}).status == 200);
    // ... and another user's needs what that user holds: tw holds token privileges uw lacks.
    const std::string uw2 = s.login("uw", "uw-password-2");
    require_escalation(s.request("POST", "/v1/users/" + tw_id + "/setpassword", uw2, json{{"new_password", "x-password-3"}}));
    // Ending another user's sessions likewise: uw cannot sign out tw (or an administrator),
    // and may end its own.
    require_escalation(s.request("POST", "/v1/users/" + tw_id + "/sessions/end", uw2));
    require_escalation(s.request("POST", "/v1/users/500/sessions/end", uw2));
    CHECK(s.request("GET", "/v1/session/who-am-i", tw).status == 200);
    CHECK(s.request("POST", "/v1/users/" + uw_id + "/sessions/end", uw2).status == 200);
}

TEST_CASE("the last administrator with a password cannot be removed, deleted or regrouped", "[server][authz]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    auto r = s.request("DELETE", "/v1/auth/roles/Administrators/members/500", admin);
    require_error(r, 400);
    CHECK(r.body.at("description").get<std::string>().find("no administrator") != std::string::npos);

    // A second administrator through a group: then admin may leave the role.
    r = s.request("POST", "/v1/groups/", admin, json{{"name", "Ops"}, {"gid", ""}});
    const std::string ops = r.body.at("id").get<std::string>();
    REQUIRE(s.request("POST", "/v1/auth/roles/Administrators/members", admin, json{{"name", "Ops"}}).status == 200);
    r = s.request("POST", "/v1/users/", admin,
                  json{{"name", "root2"}, {"primary_group", ops}, {"uid", ""}, {"home_directory", nullptr}, {"password", "root2-password-1"}});
    REQUIRE(r.status == 200);
    const std::string root2 = r.body.at("id").get<std::string>();
    CHECK(s.request("DELETE", "/v1/auth/roles/Administrators/members/500", admin).status == 200);
    const std::string boss = s.login("root2", "root2-password-1");
    // root2 is now the last one: regrouping, deleting it or its group, or the group's role, is refused.
    require_error(s.request("PUT", "/v1/users/" + root2, boss,
                            json{{"id", root2}, {"name", "root2"}, {"primary_group", "513"}, {"uid", ""}, {"home_directory", nullptr}}),
                  400);
    require_error(s.request("DELETE", "/v1/users/" + root2, boss), 400);
    require_error(s.request("DELETE", "/v1/auth/roles/Administrators/members/" + ops, boss), 400);
    // Giving admin the role back makes each of them possible again.
    REQUIRE(s.request("POST", "/v1/auth/roles/Administrators/members", boss, json{{"name", "admin"}}).status == 200);
    CHECK(s.request("DELETE", "/v1/auth/roles/Administrators/members/" + ops, boss).status == 200);
}

TEST_CASE("scoped tokens carry the intersection of their scope and the user's privileges", "[server][authz]") {
    temp_dir dir;
    std::string scoped;
    std::string scoped_id;
    {
        server_process s(dir.path + "/data");
        const std::string admin = s.login();
        create_user(s, admin, "svc");
        grant(s, admin, "SvcRole", {"PRIVILEGE_LOCAL_USER_READ", "PRIVILEGE_ACCESS_TOKENS_READ"}, json{{"name", "svc"}});
        // Asking for a privilege the user does not hold is 400.
        require_error(s.request("POST", "/v1/auth/access-tokens/", admin,
                                json{{"user", {{"name", "svc"}}}, {"privileges", {"PRIVILEGE_ROLE_WRITE"}}}),
                      400);
        require_error(s.request("POST", "/v1/auth/access-tokens/", admin,
                                json{{"user", {{"name", "svc"}}}, {"privileges", {"PRIVILEGE_NOPE"}}}),
                      400);
        auto r = s.request("POST", "/v1/auth/access-tokens/", admin,
                           json{{"user", {{"name", "svc"}}}, {"privileges", {"PRIVILEGE_LOCAL_USER_READ"}}});
        REQUIRE(r.status == 200);
        scoped = r.body.at("bearer_token").get<std::string>();
        scoped_id = r.body.at("id").get<std::string>();
        const auto full = create_token(s, admin, user_identity("svc"));
        CHECK(s.request("GET", "/v1/auth/access-tokens/" + scoped_id, admin).body.at("privileges") ==
              json{"PRIVILEGE_LOCAL_USER_READ"});
        CHECK(s.request("GET", "/v1/auth/access-tokens/" + full.id, admin).body.at("privileges").is_null());
        // The scoped token may read users, not tokens; the full one both.
        CHECK(s.request("GET", "/v1/users/", scoped).status == 200);
        require_error(s.request("GET", "/v1/auth/access-tokens/", scoped), 403, "privilege_required_error");
        CHECK(s.request("GET", "/v1/auth/access-tokens/", full.bearer).status == 200);
        r = s.request("GET", "/v1/session/who-am-i", scoped);
        CHECK(r.body.at("privileges") == json{"PRIVILEGE_LOCAL_USER_READ"});
        CHECK(r.body.at("access_token_id") == scoped_id);
        // A scoped token cannot mint an unscoped one for its own user (that would widen it).
        // Narrowing the user's roles narrows the token too.
        REQUIRE(s.request("PATCH", "/v1/auth/roles/SvcRole", admin, json{{"privileges", {"PRIVILEGE_ACCESS_TOKENS_READ"}}}).status == 200);
        require_error(s.request("GET", "/v1/users/", scoped), 403);
        CHECK(s.request("GET", "/v1/session/who-am-i", scoped).body.at("privileges") == json::array());
        REQUIRE(s.request("PATCH", "/v1/auth/roles/SvcRole", admin,
                          json{{"privileges", {"PRIVILEGE_ACCESS_TOKENS_READ", "PRIVILEGE_LOCAL_USER_READ"}}}).status == 200);
    }
    // The scope survives a restart.
    server_process s(dir.path + "/data");
    CHECK(s.request("GET", "/v1/users/", scoped).status == 200);
    require_error(s.request("GET", "/v1/auth/access-tokens/", scoped), 403);
}

TEST_CASE("last used is current at once on this server and saved at shutdown and unused_since lists idle tokens", "[server][authz]") {
    temp_dir dir;
    created_token used, idle;
    std::string used_at;
    {
        server_process s(dir.path + "/data");
        const std::string admin = s.login();
        create_user(s, admin, "svc");
        used = create_token(s, admin, user_identity("svc"));
        idle = create_token(s, admin, user_identity("svc"));
        CHECK(s.request("GET", "/v1/auth/access-tokens/" + used.id, admin).body.at("last_used_time").is_null());
        REQUIRE(s.request("GET", "/v1/session/who-am-i", used.bearer).status == 200);
        used_at = s.request("GET", "/v1/auth/access-tokens/" + used.id, admin).body.at("last_used_time").get<std::string>();
        CHECK(s.request("GET", "/v1/auth/access-tokens/" + idle.id, admin).body.at("last_used_time").is_null());

        // unused_since: a time after both were created and after the use lists both; the
        // creation time of the tokens' era (2000) lists neither.
        const auto list = [&](const std::string& t) {
            std::set<std::string> ids;
            const auto r = s.request("GET", "/v1/auth/access-tokens/?unused_since=" + t, admin);
            REQUIRE(r.status == 200);
            for (const auto& e : r.body.at("entries")) ids.insert(e.at("id").get<std::string>());
            return ids;
        };
        CHECK(list("2200-01-01T00:00:00Z") == std::set<std::string>{used.id, idle.id});
        CHECK(list("2000-01-01T00:00:00Z").empty());
        // A time between the use and now: the used token was used since, the idle one not.
        const std::string created = s.request("GET", "/v1/auth/access-tokens/" + idle.id, admin).body.at("creation_time");
        const std::string between = tokenauth::format_rfc3339(*tokenauth::parse_rfc3339(created) + 1);
        CHECK(list(between) == std::set<std::string>{idle.id});
        require_error(s.request("GET", "/v1/auth/access-tokens/?unused_since=yesterday", admin), 400);
        CHECK(s.stop() == 0);
    }
    // The shutdown batch saved it; the first use is in the audit trail.
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + used.id, admin).body.at("last_used_time") == used_at);
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + idle.id, admin).body.at("last_used_time").is_null());
    const std::string audit = read_file(dir.path + "/data/audit.log");
    CHECK(audit.find("\"event\":\"token_first_used\"") != std::string::npos);
    CHECK(audit.find(used.id) != std::string::npos);
}

TEST_CASE("batched last-used writes happen within the interval while the server runs", "[server][authz]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {"--last-used-interval", "1"});
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const auto t = create_token(s, admin, user_identity("svc"));
    REQUIRE(s.request("GET", "/v1/session/who-am-i", t.bearer).status == 200);
    // Read the database file directly: the value arrives without a restart.
    bool saved = false;
    for (int i = 0; i < 100 && !saved; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2((dir.path + "/data/tokenauth.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM access_tokens WHERE last_used_time IS NOT NULL", -1, &st, nullptr);
        saved = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    CHECK(saved);
}

TEST_CASE("exposed tokens are revoked by whoever reports them but only when they verify in full", "[server][authz]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const auto leaked = create_token(s, admin, user_identity("svc"));
    const auto kept = create_token(s, admin, user_identity("svc"));
    // The kept token's id with another secret (a valid checksum, a wrong secret).
    auto forged = *tokenauth::parse_access_token(kept.bearer);
    forged.secret[0] ^= 1;
    const std::string forged_text = tokenauth::encode_access_token(forged);
    REQUIRE(tokenauth::parse_access_token(forged_text));

    auto r = s.request("POST", "/v1/auth/access-tokens/revoke", "",
                       json{{"credentials", {leaked.bearer, forged_text, "access-v1:junk", "hello"}}});
    CHECK(r.status == 202);
    CHECK(r.raw.find("svc") == std::string::npos);  // tells nothing about the tokens
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + leaked.id, admin).body.at("enabled") == false);
    require_error(s.request("GET", "/v1/session/who-am-i", leaked.bearer), 401, "access_token_disabled_error");
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + kept.id, admin).body.at("enabled") == true);
    CHECK(s.request("GET", "/v1/session/who-am-i", kept.bearer).status == 200);
    // Malformed requests are 400.
    require_error(s.request_text("POST", "/v1/auth/access-tokens/revoke", "", "not json"), 400);
    require_error(s.request("POST", "/v1/auth/access-tokens/revoke", "", json{{"credentials", "x"}}), 400);
    require_error(s.request("POST", "/v1/auth/access-tokens/revoke", "", json{{"credentials", {1, 2}}}), 400);
    require_error(s.request("POST", "/v1/auth/access-tokens/revoke", "",
                            json{{"credentials", std::vector<std::string>(501, "access-v1:x")}}),
                  400);
    const std::string audit = read_file(dir.path + "/data/audit.log");
    CHECK(audit.find("\"event\":\"token_reported_exposed\"") != std::string::npos);
    CHECK(audit.find(leaked.bearer.substr(10)) == std::string::npos);  // never the secret
    // 60 reports an hour per address: 5 were made; the 61st is 429.
    for (int i = 5; i < 60; ++i)
        REQUIRE(s.request("POST", "/v1/auth/access-tokens/revoke", "", json{{"credentials", json::array()}}).status == 202);
    r = s.request("POST", "/v1/auth/access-tokens/revoke", "", json{{"credentials", json::array()}});
    require_error(r, 429);
}

TEST_CASE("a maximum token lifetime bounds expirations from the creation time", "[server][authz]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {"--max-token-lifetime", "30d"});
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const auto t = create_token(s, admin, user_identity("svc"));
    const json row = s.request("GET", "/v1/auth/access-tokens/" + t.id, admin).body;
    const auto created = *tokenauth::parse_rfc3339(row.at("creation_time").get<std::string>());
    const auto expires = *tokenauth::parse_rfc3339(row.at("expiration_time").get<std::string>());
    CHECK(expires - created == std::int64_t{30} * 86400 * 1000000000);
    auto r = s.request("POST", "/v1/auth/access-tokens/", admin,
                       json{{"user", {{"name", "svc"}}}, {"expiration_time", "2099-01-01T00:00:00Z"}});
    require_error(r, 400);
    CHECK(r.body.at("description").get<std::string>().find("maximum token lifetime is 30d") != std::string::npos);
    require_error(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"expiration_time", nullptr}}), 400);
    require_error(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"expiration_time", "2099-01-01T00:00:00Z"}}), 400);
    CHECK(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin,
                    json{{"expiration_time", tokenauth::format_rfc3339(created + std::int64_t{86400} * 1000000000)}}).status == 200);
    CHECK(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", false}}).status == 200);
}

TEST_CASE("the audit trail is a hash chain that finds edits and deletions across rotation", "[server][authz]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    {
        server_process s(data, {"--audit-max-bytes", "4096", "--server-name", "alpha"});
        const std::string admin = s.login();
        for (int i = 0; i < 12; ++i) create_user(s, admin, "user" + std::to_string(i), "secret-password-" + std::to_string(i));
        const auto t = create_token(s, admin, user_identity("user1"));
        REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + t.id, admin).status == 200);
        CHECK(s.request("POST", "/v1/session/login", "", json{{"username", "admin"}, {"password", "wrong"}}).status == 401);
        CHECK(s.stop() == 0);
        CHECK(s.log().find("\"event\":\"audit_chain_head\"") != std::string::npos);
        const std::string all = read_file(data + "/audit.log") + read_file(data + "/audit.log.1");
        CHECK(all.find("secret-password") == std::string::npos);
        CHECK(all.find(t.bearer.substr(10)) == std::string::npos);
        CHECK(all.find("\"server\":\"alpha\"") != std::string::npos);
        CHECK(all.find("\"event\":\"login_failed\"") != std::string::npos);
        CHECK(all.find("\"event\":\"token_deleted\"") != std::string::npos);
        CHECK(all.find("\"event\":\"user_created\"") != std::string::npos);
    }
    struct stat st {};
    REQUIRE(::stat((data + "/audit.log.1").c_str(), &st) == 0);  // it rotated
    auto [rc, out] = verify_audit(data);
    INFO(out);
    CHECK(rc == 0);
    CHECK(out.find("intact") != std::string::npos);

    // Edit one line in the middle of the rotated file: named as broken.
    const std::string path = data + "/audit.log.1";
    const std::string original = read_file(path);
    auto lines = lines_of(original);
    REQUIRE(lines.size() >= 3);
    const auto write_lines = [&](const std::vector<std::string>& ls) {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        for (const auto& l : ls) f << l << "\n";
    };
    auto edited = lines;
    const auto at = edited[1].find("\"ts\":\"20");
    REQUIRE(at != std::string::npos);
    edited[1].replace(at, 8, "\"ts\":\"19");
    write_lines(edited);
    std::tie(rc, out) = verify_audit(data);
    CHECK(rc == 1);
    CHECK(out.find("audit.log.1:3") != std::string::npos);  // the line after the edited one
    // Delete a line: found too.
    auto shorter = lines;
    shorter.erase(shorter.begin() + 1);
    write_lines(shorter);
    std::tie(rc, out) = verify_audit(data);
    CHECK(rc == 1);
    CHECK(out.find("audit.log.1:2") != std::string::npos);
    write_lines(lines);
    CHECK(verify_audit(data).first == 0);
}

TEST_CASE("the session key lives in a 0600 key file and moves out of an older database on start", "[server][authz]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    std::string session;
    std::string key_hex;
    {
        server_process s(data);
        session = s.login();
        CHECK(s.stop() == 0);
    }
    struct stat st {};
    REQUIRE(::stat((data + "/session.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    key_hex = read_file(data + "/session.key");
    REQUIRE(key_hex.size() == 65);
    // Make it an older database: the key in meta, no file.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((data + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
    const auto count_keys = [&] {
        sqlite3_stmt* st2 = nullptr;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM meta WHERE key = 'session_key'", -1, &st2, nullptr);
        sqlite3_step(st2);
        const int n = sqlite3_column_int(st2, 0);
        sqlite3_finalize(st2);
        return n;
    };
    CHECK(count_keys() == 0);
    const std::string insert = "INSERT INTO meta (key, value) VALUES ('session_key', X'" + key_hex.substr(0, 64) + "')";
    REQUIRE(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    REQUIRE(::unlink((data + "/session.key").c_str()) == 0);
    {
        server_process s(data);
        CHECK(s.request("GET", "/v1/session/who-am-i", session).status == 200);  // the same key
    }
    CHECK(read_file(data + "/session.key") == key_hex);
    REQUIRE(sqlite3_open((data + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
    CHECK(count_keys() == 0);
    sqlite3_close(db);
    // --session-key-file: a key given by path (another server's) is used as is.
    const std::string shared = dir.path + "/shared.key";
    {
        std::ofstream f(shared);
        f << std::string(64, 'a') << "\n";
    }
    ::chmod(shared.c_str(), 0600);
    server_process s(data, {"--session-key-file", shared});
    require_error(s.request("GET", "/v1/session/who-am-i", session), 401);  // signed with the old key
    CHECK(s.request("GET", "/v1/session/who-am-i", s.login()).status == 200);
}
