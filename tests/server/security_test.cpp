// The ways around containment, the throttle and name uniqueness that an attacker found
// (issue "five ways around the escalation rule"), each as the requests that broke it, through
// the real server binary; and a property test: every name that can be created can be
// addressed, read, modified and deleted through the API.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <cstdio>
#include <random>
#include <set>

#include "api_helpers.hpp"
#include "schema_rewind.hpp"
#include "text.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;

namespace {

std::string admin_privileges_of(const server_process& s, const std::string& bearer) {
    const auto r = s.request("GET", "/v1/session/who-am-i", bearer);
    return r.status == 200 ? std::to_string(r.body.at("privileges").size()) : "status " + std::to_string(r.status);
}

std::string user_body(const std::string& id, const std::string& name) {
    return json{{"id", id}, {"name", name}, {"primary_group", "513"}, {"uid", ""}, {"home_directory", nullptr}}.dump();
}

}  // namespace

TEST_CASE("finding 1: a token holder's privileges are not revived by ACCESS_TOKENS_WRITE alone", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    const std::string tw = user_with(s, admin, "tw", {"PRIVILEGE_ACCESS_TOKENS_WRITE", "PRIVILEGE_ACCESS_TOKENS_READ"});

    // An admin token that has expired: extended (or made endless) by tw, it would act as admin.
    const created_token expired = create_token(s, admin, user_identity("admin"), "2099-01-01T00:00:00Z");
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + expired.id, admin,
                      json{{"expiration_time", "2000-01-01T00:00:00Z"}}).status == 200);
    CHECK(s.request("GET", "/v1/session/who-am-i", expired.bearer).status == 401);
    require_escalation(s.request("PATCH", "/v1/auth/access-tokens/" + expired.id, tw,
                                 json{{"expiration_time", "2099-01-01T00:00:00Z"}}));
    require_escalation(s.request("PATCH", "/v1/auth/access-tokens/" + expired.id, tw, json{{"expiration_time", nullptr}}));
    CHECK(s.request("GET", "/v1/session/who-am-i", expired.bearer).status == 401);

    // Disabled by an administrator: tw cannot enable it.
    const created_token disabled = create_token(s, admin, user_identity("admin"));
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + disabled.id, admin, json{{"enabled", false}}).status == 200);
    require_escalation(s.request("PATCH", "/v1/auth/access-tokens/" + disabled.id, tw, json{{"enabled", true}}));
    CHECK(s.request("GET", "/v1/session/who-am-i", disabled.bearer).status == 401);

    // Disabled by an unauthenticated revocation report: stays disabled for tw too.
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + disabled.id, admin).status == 200);
    const created_token reported = create_token(s, admin, user_identity("admin"));
    REQUIRE(s.request("POST", "/v1/auth/access-tokens/revoke", "", json{{"credentials", {reported.bearer}}}).status == 202);
    CHECK(s.request("GET", "/v1/session/who-am-i", reported.bearer).status == 401);
    require_escalation(s.request("PATCH", "/v1/auth/access-tokens/" + reported.id, tw, json{{"enabled", true}}));
    CHECK(s.request("GET", "/v1/session/who-am-i", reported.bearer).status == 401);

    // Taking access away needs nothing: tw shortens, disables and deletes admin's tokens.
    CHECK(s.request("PATCH", "/v1/auth/access-tokens/" + expired.id, tw,
                    json{{"expiration_time", "1999-01-01T00:00:00Z"}}).status == 200);
    // Whoever holds the token's privileges may revive it.
    CHECK(s.request("PATCH", "/v1/auth/access-tokens/" + reported.id, admin, json{{"enabled", true}}).status == 200);
    CHECK(admin_privileges_of(s, reported.bearer) == "127");
    CHECK(s.request("PATCH", "/v1/auth/access-tokens/" + reported.id, tw, json{{"enabled", false}}).status == 200);
    CHECK(s.request("DELETE", "/v1/auth/access-tokens/" + reported.id, tw).status == 200);

    // A token within what tw holds: tw may re-enable it (tw holds its privileges).
    create_user(s, admin, "svc");
    const created_token svc = create_token(s, admin, user_identity("svc"));
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + svc.id, tw, json{{"enabled", false}}).status == 200);
    CHECK(s.request("PATCH", "/v1/auth/access-tokens/" + svc.id, tw, json{{"enabled", true}}).status == 200);
}

TEST_CASE("finding 2: LOCAL_USER_WRITE cannot rename the administrator and take over its name", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    const std::string uw = user_with(s, admin, "uw", {"PRIVILEGE_LOCAL_USER_WRITE", "PRIVILEGE_LOCAL_USER_READ"});
    require_escalation(s.request_text("PUT", "/v1/users/500", uw, user_body("500", "admin-old")));
    const auto taken = s.request("POST", "/v1/users/", uw,
                                 json{{"name", "admin"}, {"primary_group", "0"}, {"uid", ""}, {"home_directory", nullptr},
                                      {"password", "attacker-password-1"}});
    require_error(taken, 409, "name_conflict_error");
    CHECK_NOTHROW(s.login("admin", test_server::admin_password));
    CHECK(s.request("POST", "/v1/session/login", "", json{{"username", "admin"}, {"password", "attacker-password-1"}}).status == 401);
    // Deleting or renaming any user needs what that user holds; one's own rename does not.
    const std::string tw_id = create_user(s, admin, "tw", "tw-password-1");
    grant(s, admin, "tw-role", {"PRIVILEGE_ACCESS_TOKENS_WRITE"}, json{{"name", "tw"}});
    require_escalation(s.request_text("PUT", "/v1/users/" + tw_id, uw, user_body(tw_id, "tw-old")));
    require_escalation(s.request("DELETE", "/v1/users/" + tw_id, uw));
    const std::string uw_id = s.request("GET", "/v1/session/who-am-i", uw).body.at("id").get<std::string>();
    CHECK(s.request_text("PUT", "/v1/users/" + uw_id, uw, user_body(uw_id, "uw-renamed")).status == 200);
    // The administrator renames itself (it holds everything it holds).
    CHECK(s.request_text("PUT", "/v1/users/500", admin, user_body("500", "root")).status == 200);
    CHECK_NOTHROW(s.login("root", test_server::admin_password));
}

TEST_CASE("finding 2b: a scoped token cannot set its own user's password and log in beyond its scope", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    auto r = s.request("POST", "/v1/auth/access-tokens/", admin,
                       json{{"user", {{"name", "admin"}}}, {"privileges", {"PRIVILEGE_LOCAL_USER_WRITE"}}});
    REQUIRE(r.status == 200);
    const std::string scoped = r.body.at("bearer_token").get<std::string>();
    require_escalation(s.request("POST", "/v1/users/500/setpassword", scoped, json{{"new_password", "taken-over-1"}}));
    CHECK_NOTHROW(s.login("admin", test_server::admin_password));
}

TEST_CASE("finding 3: wrong old passwords on change-password are throttled like logins", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    // A token of the victim's that an attacker was given.
    const created_token stolen = create_token(s, admin, user_identity("admin"));
    int unauthorized = 0, throttled = 0;
    std::string retry_after;
    for (int i = 0; i < 120 && throttled == 0; ++i) {
        const auto r = s.request("POST", "/v1/session/change-password", stolen.bearer,
                                 json{{"old_password", "guess-" + std::to_string(i)}, {"new_password", "mine-1"}});
        if (r.status == 401) ++unauthorized;
        if (r.status == 429) {
            ++throttled;
            retry_after = r.headers.count("Retry-After") ? r.headers.find("Retry-After")->second : "";
            require_error(r, 429, "too_many_requests_error");
        }
    }
    CHECK(unauthorized == 5);  // the default --login-failures-per-user
    CHECK(throttled == 1);
    CHECK(!retry_after.empty());
    // One budget for every password check of that name from this address: login too.
    CHECK(s.request("POST", "/v1/session/login", "", json{{"username", "admin"}, {"password", "x"}}).status == 429);
    CHECK(s.request("POST", "/v1/session/login", "", json{{"username", "ADMIN"}, {"password", "x"}}).status == 429);
}

TEST_CASE("finding 4: look-alike names are refused or collide, and identity strings are not trimmed", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    auto create = [&](const std::string& name) {
        return s.request("POST", "/v1/users/", admin,
                         json{{"name", name}, {"primary_group", "0"}, {"uid", ""}, {"home_directory", nullptr}, {"password", nullptr}});
    };
    // Refused with 400: white space at an end, format characters.
    for (const std::string& name : {std::string("admin\u200b"), std::string("\ufeffadmin"), std::string("admin\u00a0"),
                                   std::string(" admin"), std::string("admin "), std::string("ad\u200dmin"),
                                   std::string("admin\t"), std::string("\u2028admin")}) {
        INFO(name);
        require_error(create(name), 400, "bad_request_error");
    }
    const auto zw = create("admin\u200b");
    CHECK(zw.body.at("description") == "'name' must not contain a format character (U+200B)");
    CHECK(create(" admin").body.at("description") == "'name' must not begin or end with white space");
    // The same name once width, case and compatibility forms are folded: 409.
    for (const std::string& name : {std::string("\uff41\uff44\uff4d\uff49\uff4e"), std::string("ADMIN"), std::string("Admin"),
                                   std::string("\u1d00dmin") /* not a fold: a different letter */}) {
        INFO(name);
        const auto r = create(name);
        if (name == "\u1d00dmin") CHECK(r.status == 200);
        else require_error(r, 409, "name_conflict_error");
    }
    // NFC and NFD forms of one name are one name; the stored form is NFC.
    const auto nfc = create("caf\u00e9");
    REQUIRE(nfc.status == 200);
    require_error(create("cafe\u0301"), 409, "name_conflict_error");
    const auto nfd = create("jose\u0301");
    REQUIRE(nfd.status == 200);
    CHECK(nfd.body.at("name") == "jos\u00e9");
    // A name whose canonical reordering changes its fold (U+0345 has combining class 240, its
    // case fold U+03B9 has 0) is found by either form: the key is always taken of the NFC form.
    const auto iota = create("x\u0345\u0301");
    REQUIRE(iota.status == 200);
    CHECK(iota.body.at("name") == "x\u0301\u0345");
    require_error(create("x\u0345\u0301"), 409, "name_conflict_error");
    auto found = s.request("GET", "/v1/auth/access-tokens/?user=x%CD%85%CC%81", admin);
    CHECK(found.status == 200);
    // Ligatures fold too.
    REQUIRE(create("office").status == 200);
    require_error(create("o\ufb03ce"), 409, "name_conflict_error");
    // Lookups fold the same way, and do not trim.
    const created_token t = create_token(s, admin, user_identity("admin"));
    auto r = s.request("GET", "/v1/auth/access-tokens/?user=%20admin", admin);
    require_error(r, 404, "not_found_error");
    r = s.request("GET", "/v1/auth/access-tokens/?user=%EF%BC%A1DMIN", admin);  // full-width A + "DMIN"
    REQUIRE(r.status == 200);
    REQUIRE(r.body.at("entries").size() == 1);
    CHECK(r.body.at("entries")[0].at("id") == t.id);
    // Login folds: the full-width name reaches admin (its password decides).
    CHECK(s.request("POST", "/v1/session/login", "",
                    json{{"username", "\uff41\uff44\uff4d\uff49\uff4e"}, {"password", test_server::admin_password}}).status == 200);
}

TEST_CASE("finding 5: every role name that can be created can be addressed", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    auto create = [&](const std::string& name) {
        return s.request("POST", "/v1/auth/roles/", admin, json{{"name", name}, {"description", "d"}, {"privileges", json::array()}});
    };
    for (const std::string& name : {std::string("a/b"), std::string("a\\b"), std::string("a:b"), std::string("a\tb"),
                                   std::string("a\0b", 3), std::string("."), std::string(".."), std::string(" r"), std::string("")}) {
        INFO(name);
        require_error(create(name), 400, "bad_request_error");
    }
    CHECK(create("a/b").body.at("description") == "'name' must not contain '/' (U+002F)");
    // Renaming into a refused name is refused as well.
    REQUIRE(create("plain").status == 200);
    require_error(s.request("PATCH", "/v1/auth/roles/plain", admin, json{{"name", "x/y"}}), 400, "bad_request_error");
    // Role names fold like user names: one role per folded name.
    require_error(create("PLAIN"), 409, "name_conflict_error");
    CHECK(s.request("GET", "/v1/auth/roles/PLAIN", admin).body.at("name") == "plain");
}

TEST_CASE("a repeated Authorization header is refused with 400", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const created_token svc = create_token(s, admin, user_identity("svc"));
    for (const std::string path : {"/v1/session/who-am-i", "/v1/version", "/v1/users/"}) {
        INFO(path);
        const auto r = s.request_text("GET", path, admin, "", {{"Authorization", "Bearer " + svc.bearer}});
        require_error(r, 400, "bad_request_error");
        CHECK(r.body.at("description") == "the request has more than one Authorization header");
    }
    const auto r = s.request_text("GET", "/v1/session/who-am-i", admin, "", {{"Proxy-Authorization", "Basic a"},
                                                                           {"Proxy-Authorization", "Basic b"}});
    require_error(r, 400, "bad_request_error");
}

TEST_CASE("a credential is compared as sent: percent-escapes in Authorization are not decoded", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const created_token svc = create_token(s, admin, user_identity("svc"));
    for (const std::string& bearer : {svc.bearer, admin}) {
        REQUIRE(s.request("GET", "/v1/session/who-am-i", bearer).status == 200);
        // One character of the secret part as %XX: other bytes, so not the credential.
        const std::size_t at = bearer.size() - 3;
        char escaped[4];
        std::snprintf(escaped, sizeof escaped, "%%%02X", static_cast<unsigned char>(bearer[at]));
        const std::string other = bearer.substr(0, at) + escaped + bearer.substr(at + 1);
        INFO(other);
        require_error(s.request("GET", "/v1/session/who-am-i", other), 401);
    }
}

TEST_CASE("a rotated token's tombstone goes 30 days after its rotation, at the next rotation", "[server][rotation]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    created_token first;
    std::string second;
    {
        server_process s(data);
        const std::string admin = s.login();
        create_user(s, admin, "svc");
        first = create_token(s, admin, user_identity("svc"));
        const auto r = s.request("POST", "/v1/auth/access-tokens/" + first.id + "/rotate", admin);
        REQUIRE(r.status == 200);
        second = r.body.at("id");
        REQUIRE(s.stop() == 0);
    }
    {
        // The rotation happened 31 days ago.
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((data + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
        const int rc = sqlite3_exec(db,
                                    "UPDATE access_tokens SET rotated_time = rotated_time - 31 * 86400000000000 "
                                    "WHERE rotated_to IS NOT NULL",
                                    nullptr, nullptr, nullptr);
        CHECK(sqlite3_changes(db) == 1);
        sqlite3_close(db);
        REQUIRE(rc == SQLITE_OK);
    }
    server_process s(data);
    const std::string admin = s.login();
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + first.id, admin).status == 200);  // until a rotation prunes it
    REQUIRE(s.request("POST", "/v1/auth/access-tokens/" + second + "/rotate", admin).status == 200);
    require_error(s.request("GET", "/v1/auth/access-tokens/" + first.id, admin), 404, "not_found_error");
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + second, admin).body.at("rotated_to").is_string());  // a new one stays
    require_error(s.request("GET", "/v1/session/who-am-i", first.bearer), 401, "invalid_credentials_error");
}

TEST_CASE("names stored before uniqueness keys that collide stay in place and are reported", "[server][security]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    {
        server_process s(data);
        const std::string admin = s.login();
        create_user(s, admin, "svc", "svc-password-1");
        REQUIRE(s.stop() == 0);
    }
    {
        // The database as the version before keys wrote it (schema v4), with a look-alike of
        // admin that it accepted.
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((data + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, test_server::undo_v6_and_later, nullptr, nullptr, nullptr) == SQLITE_OK);
        const char* sql =
            "DROP INDEX principals_name_key; DROP INDEX roles_name_key;"
            "ALTER TABLE principals DROP COLUMN name_key; ALTER TABLE roles DROP COLUMN name_key;"
            "INSERT INTO principals (auth_id, kind, name, primary_group, session_binding) "
            "VALUES (2000, 'user', '\xef\xbd\x81\x64min', 513, randomblob(16));"
            "INSERT INTO roles (name, description, privileges) VALUES ('ADMINISTRATORS\xe2\x80\x8b', 'x', '');"
            "PRAGMA user_version = 4;";
        char* err = nullptr;
        const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
        INFO((err ? err : ""));
        sqlite3_free(err);
        sqlite3_close(db);
        REQUIRE(rc == SQLITE_OK);
    }
    server_process s(data);
    const std::string log = s.log();
    CHECK(log.find("\"event\":\"name_collision\"") != std::string::npos);
    CHECK(log.find("user '\xef\xbd\x81\x64min' (auth_id 2000)") != std::string::npos);
    CHECK(log.find("role 'ADMINISTRATORS\xe2\x80\x8b'") != std::string::npos);
    // admin keeps its name; the look-alike stays, found by its exact name.
    const std::string admin = s.login();
    auto r = s.request("POST", "/v1/identity/find", admin, json{{"name", "\xef\xbd\x81\x64min"}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("auth_id") == "2000");
    r = s.request("POST", "/v1/identity/find", admin, json{{"name", "ADMIN"}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("auth_id") == "500");
    CHECK(s.request("GET", "/v1/auth/roles/Administrators", admin).body.at("privileges").size() == 127);
    // New names still collide with the keyed one; renaming the look-alike gives it a key.
    require_error(s.request("POST", "/v1/groups/", admin, json{{"name", "Admin"}, {"gid", ""}}), 409, "name_conflict_error");
    CHECK(s.request_text("PUT", "/v1/users/2000", admin, user_body("2000", "lookalike")).status == 200);
    CHECK(s.request("POST", "/v1/identity/find", admin, json{{"name", "LOOKALIKE"}}).body.at("auth_id") == "2000");
    CHECK_NOTHROW(s.login("svc", "svc-password-1"));
}

namespace {

/// Draws names from a wide alphabet: letters of several scripts, digits, the characters that
/// paths and queries give meaning to, inner spaces, combining marks, emoji; and, in about
/// one name in four, one character or shape the rules refuse (refused is set then).
std::string draw_name(std::mt19937& rng, bool& refused, bool& not_utf8, bool role) {
    static const std::vector<std::string> allowed = {
        "a", "Z", "0", "9", "-", "_", ".", "~", "%", "+", "?", "#", "&", "=", ";", ",", "'", "\"", "<", ">", "(", ")",
        "[", "]", "{", "}", "@", "!", "$", "*", "^", "|", "`", " ",
        "\u00e9", "\u00df", "\u0130", "\u03a3", "\u03c2", "\u0416", "\u05d0", "\u0627", "\u0915", "\u0e01", "\u4e2d",
        "\u3042", "\uac00", "\u2160", "\u00bd", "\u212b", "\uff21", "\ufb01", "\U0001F600", "e\u0301", "\u0301"};
    // Refused wherever they stand; the last two are not UTF-8.
    static const std::vector<std::string> bad = {"\x01", "\x7f", "\u0085", "\u200b", "\u200e", "\u2028", "\ue000", ":", "\\",
                                                 "\U000E0001", "\xc3", "\xed\xa0\x80"};
    std::uniform_int_distribution<std::size_t> len(1, 12), pick(0, allowed.size() - 1), pick_bad(0, bad.size() - 1);
    std::string name;
    for (std::size_t n = len(rng); n > 0; --n) name += allowed[pick(rng)];
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty() || name == "." || name == "..") name = "n" + name;
    refused = not_utf8 = false;
    switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
    case 0: {
        const std::size_t b = pick_bad(rng);
        name.insert(std::uniform_int_distribution<int>(0, 1)(rng) ? name.size() : 0, bad[b]);
        refused = true;
        not_utf8 = b + 2 >= bad.size();
        break;
    }
    case 1: name = " " + name; refused = true; break;
    case 2: if (role) { name += "/x"; refused = true; } break;
    default: break;
    }
    return name;
}

/// name as a JSON string literal, its bytes as they are (so bytes that are not UTF-8 reach
/// the server); only '"', '\\' and control bytes are escaped.
std::string raw_json_string(const std::string& name) {
    std::string out = "\"";
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

}  // namespace

TEST_CASE("property: every name that can be created can be read, modified and deleted through the API", "[server][security][names]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {"--http"});
    const std::string admin = s.login();
    std::mt19937 rng(20261204);
    int created = 0, refused_400 = 0, conflicts = 0;
    for (int i = 0; i < 300; ++i) {
        const int which = i % 3;  // user, group, role
        bool refused = false, not_utf8 = false;
        const std::string name = draw_name(rng, refused, not_utf8, which == 2) + (which == 1 ? "-g" : which == 2 ? "-r" : "");
        INFO("name bytes: " << json(name).dump(-1, ' ', true, json::error_handler_t::replace) << " kind " << which);
        const std::string quoted = raw_json_string(name);
        const std::string body =
            which == 0   ? R"({"name": )" + quoted + R"(, "primary_group": "0", "uid": "", "home_directory": null, "password": null})"
            : which == 1 ? R"({"name": )" + quoted + R"(, "gid": ""})"
                         : R"({"name": )" + quoted + R"(, "description": "d", "privileges": []})";
        const auto r = s.request_text("POST", which == 0 ? "/v1/users/" : which == 1 ? "/v1/groups/" : "/v1/auth/roles/", admin, body);
        if (not_utf8) CHECK(r.body.at("description") == "request body is not valid JSON");
        // Bytes that are not UTF-8 are sent as they are (the JSON parser refuses them).
        if (refused) {
            require_error(r, 400, "bad_request_error");
            ++refused_400;
            continue;
        }
        if (r.status == 409) {
            ++conflicts;
            continue;
        }
        REQUIRE(r.status == 200);
        ++created;
        const std::string stored = r.body.at("name").get<std::string>();
        if (which == 2) {
            const std::string path = "/v1/auth/roles/" + tokenauth::server::text::percent_encode(stored);
            auto g = s.request("GET", path, admin);
            REQUIRE(g.status == 200);
            CHECK(g.body.at("name") == stored);
            REQUIRE(s.request("PATCH", path, admin, json{{"description", "changed"}}).status == 200);
            CHECK(s.request("GET", path, admin).body.at("description") == "changed");
            REQUIRE(s.request("POST", path + "/members", admin, json{{"name", "guest"}}).status == 200);
            CHECK(s.request("GET", path + "/members", admin).body.at("members").size() == 1);
            REQUIRE(s.request("DELETE", path, admin).status == 200);
            CHECK(s.request("GET", path, admin).status == 404);
        } else {
            const std::string id = r.body.at("id").get<std::string>();
            auto f = s.request("POST", "/v1/identity/find", admin, json{{"name", stored}});
            REQUIRE(f.status == 200);
            CHECK(f.body.at("auth_id") == id);
            const std::string item = (which == 0 ? "/v1/users/" : "/v1/groups/") + id;
            CHECK(s.request("GET", item, admin).body.at("name") == stored);
            if (which == 0) {
                const auto list = s.request("GET", "/v1/auth/access-tokens/?user=" + tokenauth::server::text::percent_encode(stored), admin);
                CHECK(list.status == 200);
                CHECK(s.request_text("PUT", item, admin, user_body(id, stored)).status == 200);
            } else {
                CHECK(s.request("PUT", item, admin, json{{"id", id}, {"name", stored}, {"gid", "77"}}).status == 200);
            }
            REQUIRE(s.request("DELETE", item, admin).status == 200);
            CHECK(s.request("POST", "/v1/identity/find", admin, json{{"name", stored}}).status == 404);
        }
    }
    WARN("names: " << created << " created and addressed, " << refused_400 << " refused, " << conflicts << " conflicts");
    CHECK(created > 100);
    CHECK(refused_400 > 30);
}
