// Integration tests: the real tokenauth-server over HTTPS, each test with its own data dir.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <tokenauth/token.hpp>

#include <fstream>
#include <sstream>

#include <tokenauth/time.hpp>

#include "api_helpers.hpp"
#include "raw_client.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::read_file;
using test_server::temp_dir;
using namespace test_server::api;

namespace {

}  // namespace

TEST_CASE("version needs no authentication and ignores a stale Authorization header", "[server]") {
    temp_dir dir;
    server_process s(dir.path);
    for (const char* bearer : {"", "access-v1:stale", "session-v1:junk"}) {
        const auto r = s.request("GET", "/v1/version", bearer);
        REQUIRE(r.status == 200);
        const std::string rev = r.body.at("revision_id");
        CHECK(rev.substr(rev.rfind(' ') + 1) == "5.3.0");
        for (const char* k : {"build_id", "flavor", "build_date"}) CHECK(r.body.contains(k));
        // From the build: CMake's project version and the configure date.
        CHECK(r.body.at("build_id") == std::string("tokenauth-") + TOKENAUTH_PROJECT_VERSION);
        CHECK(r.body.at("build_date").get<std::string>().size() == 10);
    }
    // Login also ignores a stale credential.
    const auto r = s.request("POST", "/v1/session/login", "access-v1:stale",
                             json{{"username", "admin"}, {"password", test_server::admin_password}});
    CHECK(r.status == 200);
    CHECK(r.headers.find("Cache-Control")->second == "no-store");
}

TEST_CASE("login, who-am-i and session roles", "[server][session]") {
    temp_dir dir;
    server_process s(dir.path);
    require_error(s.request("POST", "/v1/session/login", "", json{{"username", "admin"}, {"password", "wrong"}}), 401,
                  "invalid_credentials_error");
    require_error(s.request("POST", "/v1/session/login", "", json{{"username", "nobody"}, {"password", "x"}}), 401);
    require_error(s.request("POST", "/v1/session/login", "", json{{"username", "guest"}, {"password", ""}}), 401);
    require_error(s.request("POST", "/v1/session/login", "", json{{"username", "admin"}}), 400);
    const std::string admin = s.login("ADMIN");  // names match case-insensitively
    CHECK(admin.rfind("session-v1:", 0) == 0);

    const auto me = s.request("GET", "/v1/session/who-am-i", admin);
    REQUIRE(me.status == 200);
    CHECK(me.body.at("id") == "500");
    CHECK(me.body.at("name") == "admin");
    CHECK(me.body.at("primary_group") == "513");
    CHECK(me.body.at("privileges").size() == 127);
    CHECK_FALSE(me.body.contains("access_token_id"));
    CHECK(me.body.at("sid").get<std::string>().rfind("S-1-5-21-", 0) == 0);

    const auto roles = s.request("GET", "/v1/session/roles", admin);
    REQUIRE(roles.status == 200);
    CHECK(roles.body == json::array({"Administrators"}));

    require_error(s.request("GET", "/v1/session/who-am-i"), 401, "authentication_required_error");
    require_error(s.request("GET", "/v1/session/who-am-i", admin.substr(0, 50)), 401);
}

TEST_CASE("an access token's name: set on create, shown in list and get, changed and removed, checked",
          "[server][access_tokens]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    // Composed on the way in ("e" + U+0301 is stored as U+00E9); ':' and '\\' are allowed.
    auto r = s.request("POST", "/v1/auth/access-tokens/", admin,
                       json{{"user", user_identity("svc")}, {"name", "backup: nightly \\ cafe\u0301"}});
    REQUIRE(r.status == 200);
    CHECK(r.body.size() == 2);  // the create response is the spec's {id, bearer_token}
    const std::string named = r.body.at("id");
    const auto unnamed = create_token(s, admin, user_identity("svc"));

    const json list = s.request("GET", "/v1/auth/access-tokens/", admin).body.at("entries");
    REQUIRE(list.size() == 2);
    CHECK(list[0].at("name") == "backup: nightly \\ caf\u00e9");
    CHECK(list[1].at("name").is_null());
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + named, admin).body.at("name") == "backup: nightly \\ caf\u00e9");

    // A modification without "name" keeps it; a string replaces it; null removes it.
    r = s.request("PATCH", "/v1/auth/access-tokens/" + named, admin, json{{"enabled", false}});
    CHECK(r.body.at("name") == "backup: nightly \\ caf\u00e9");
    r = s.request("PATCH", "/v1/auth/access-tokens/" + unnamed.id, admin, json{{"name", std::string(100, 'x')}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("name") == std::string(100, 'x'));
    r = s.request("PATCH", "/v1/auth/access-tokens/" + named, admin, json{{"name", nullptr}});
    CHECK(r.body.at("name").is_null());
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + named, admin).body.at("name").is_null());
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + unnamed.id, admin).body.at("name") == std::string(100, 'x'));

    // 100 characters, not bytes: 100 of U+00E9 (200 bytes) pass, 101 do not.
    std::string accents;
    for (int i = 0; i < 100; ++i) accents += "\u00e9";
    CHECK(s.request("PATCH", "/v1/auth/access-tokens/" + named, admin, json{{"name", accents}}).status == 200);
    for (const json& bad : {json(accents + "x"), json(std::string(101, 'x')), json(""), json(" padded"),
                            json("line\nbreak"), json(42), json::array()}) {
        INFO(bad.dump());
        require_error(s.request("PATCH", "/v1/auth/access-tokens/" + named, admin, json{{"name", bad}}), 400,
                      "bad_request_error");
        require_error(s.request("POST", "/v1/auth/access-tokens/", admin,
                                json{{"user", user_identity("admin")}, {"name", bad}}),
                      400, "bad_request_error");
    }
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + named, admin).body.at("name") == accents);
    // Nothing was created by the refused requests.
    CHECK(s.request("GET", "/v1/auth/access-tokens/?user=admin", admin).body.at("entries").empty());
}

TEST_CASE("rotation: one call replaces a token, also at the limit, with grace, and a reused token disables its family",
          "[server][access_tokens][rotation]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    grant(s, admin, "SvcRole", {"PRIVILEGE_ACCESS_TOKENS_READ", "PRIVILEGE_LOCAL_USER_READ"}, json{{"name", "svc"}});
    const auto rotate = [&](const std::string& id, const std::string& bearer, const json& body = json::object()) {
        return s.request("POST", "/v1/auth/access-tokens/" + id + "/rotate", bearer, body);
    };
    const auto who = [&](const std::string& bearer) { return s.request("GET", "/v1/session/who-am-i", bearer); };

    // Scope and name carry over; the predecessor is refused at once; at the two-token limit.
    auto r = s.request("POST", "/v1/auth/access-tokens/", admin,
                       json{{"user", user_identity("svc")}, {"name", "reports"}, {"privileges", {"PRIVILEGE_LOCAL_USER_READ"}},
                            {"expiration_time", "2099-01-01T00:00:00Z"}});
    REQUIRE(r.status == 200);
    const created_token first{r.body.at("id"), r.body.at("bearer_token")};
    const auto other = create_token(s, admin, user_identity("svc"));
    r = rotate(first.id, admin);
    INFO(r.raw);
    REQUIRE(r.status == 200);
    const created_token second{r.body.at("id"), r.body.at("bearer_token")};
    CHECK(second.id != first.id);
    CHECK(r.body.at("rotated_from") == first.id);
    CHECK(r.body.at("predecessor_enabled") == false);
    // Now + the old lifetime: later than the old expiry by the time between the two.
    CHECK(*tokenauth::parse_rfc3339(r.body.at("expiration_time").get<std::string>()) >
          *tokenauth::parse_rfc3339("2099-01-01T00:00:00Z"));
    require_error(who(first.bearer), 401, "access_token_disabled_error");
    r = who(second.bearer);
    REQUIRE(r.status == 200);
    CHECK(r.body.at("name") == "svc");
    CHECK(r.body.at("privileges") == json::array({"PRIVILEGE_LOCAL_USER_READ"}));
    const json fresh = s.request("GET", "/v1/auth/access-tokens/" + second.id, admin).body;
    CHECK(fresh.at("name") == "reports");
    CHECK(fresh.at("privileges") == json::array({"PRIVILEGE_LOCAL_USER_READ"}));
    const json old = s.request("GET", "/v1/auth/access-tokens/" + first.id, admin).body;
    CHECK(old.at("rotated_to") == second.id);
    CHECK(old.at("rotated_time").is_string());
    CHECK(old.at("enabled") == false);
    CHECK(fresh.at("rotated_to").is_null());
    // The tombstone is not counted, the two live tokens are.
    require_error(s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", user_identity("svc")}}), 409,
                  "access_token_limit_error");
    // A tombstone is not modified or rotated again by an administrator (no family disabled).
    require_error(s.request("PATCH", "/v1/auth/access-tokens/" + first.id, admin, json{{"enabled", true}}), 409,
                  "access_token_rotated_error");
    r = rotate(first.id, admin);
    require_error(r, 409, "access_token_rotated_error");
    CHECK(r.body.at("description").get<std::string>().find(second.id) != std::string::npos);
    CHECK(who(second.bearer).status == 200);

    // Another token may not rotate it; bad bodies are 400 and change nothing.
    require_error(rotate(second.id, other.bearer), 403);
    for (const json& bad : {json{{"grace_seconds", 86401}}, json{{"grace_seconds", -1}}, json{{"grace_seconds", "1"}},
                            json{{"expiration_time", "tomorrow"}}}) {
        INFO(bad.dump());
        require_error(rotate(second.id, admin, bad), 400, "bad_request_error");
    }
    require_error(rotate("12345", admin), 404, "not_found_error");
    CHECK(who(second.bearer).status == 200);

    // The holder rotates itself, with grace: both work until the grace ends; a create is
    // refused while it lasts. It may not outlive what it was given.
    require_error(rotate(second.id, second.bearer, json{{"expiration_time", nullptr}}), 400, "bad_request_error");
    require_error(rotate(second.id, second.bearer, json{{"expiration_time", "2199-01-01T00:00:00Z"}}), 400,
                  "bad_request_error");
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + other.id, admin).status == 200);
    r = rotate(second.id, second.bearer, json{{"grace_seconds", 3600}});
    REQUIRE(r.status == 200);
    const created_token third{r.body.at("id"), r.body.at("bearer_token")};
    CHECK(r.body.at("predecessor_enabled") == true);
    CHECK(r.body.at("predecessor_expiration_time").is_string());
    CHECK(who(second.bearer).status == 200);
    CHECK(who(third.bearer).status == 200);
    require_error(s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", user_identity("svc")}}), 409,
                  "access_token_limit_error");

    // Whoever rotates the predecessor again holds it too: 409 naming the successor (never its
    // secret), and every live token of the family is disabled, the newest included.
    r = rotate(second.id, second.bearer);
    require_error(r, 409, "access_token_reused_error");
    CHECK(r.body.at("description").get<std::string>().find(third.id) != std::string::npos);
    CHECK(r.raw.find(third.bearer.substr(10, 40)) == std::string::npos);
    require_error(who(third.bearer), 401, "access_token_disabled_error");
    require_error(who(second.bearer), 401, "access_token_disabled_error");
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + third.id, admin).body.at("enabled") == false);
    // The oldest one, retired and disabled, is its holder's too: 409 again, nothing left to disable.
    require_error(rotate(first.id, first.bearer), 409, "access_token_reused_error");
    const std::string audit = test_server::read_file(dir.path + "/audit.log");
    CHECK(audit.find("\"token_rotated\"") != std::string::npos);
    CHECK(audit.find("\"token_reuse_detected\"") != std::string::npos);
    CHECK(audit.find(third.bearer.substr(10, 40)) == std::string::npos);

    // An empty body is {}; a token that never expired is followed by one that never expires.
    const auto plain = create_token(s, admin, user_identity("admin"));
    r = s.request_text("POST", "/v1/auth/access-tokens/" + plain.id + "/rotate", plain.bearer, "");
    REQUIRE(r.status == 200);
    CHECK(r.body.at("expiration_time").is_null());  // none before, none after
}

TEST_CASE("service-account walkthrough over REST", "[server][access_tokens]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();

    const std::string svc_id = create_user(s, admin, "svc-backup");
    grant(s, admin, "TokenReaders", {"PRIVILEGE_ACCESS_TOKENS_READ", "PRIVILEGE_LOCAL_USER_READ"},
          json{{"name", "svc-backup"}});

    const auto first = create_token(s, admin, user_identity("svc-backup"), "2099-01-01T00:00:00+00:00");
    CHECK(first.bearer.size() == 82);
    CHECK(tokenauth::to_string(tokenauth::parse_access_token(first.bearer)->id) == first.id);

    // Use it.
    auto me = s.request("GET", "/v1/session/who-am-i", first.bearer);
    REQUIRE(me.status == 200);
    CHECK(me.body.at("id") == svc_id);
    CHECK(me.body.at("access_token_id") == first.id);
    CHECK(me.body.at("privileges") == json::array({"PRIVILEGE_LOCAL_USER_READ", "PRIVILEGE_ACCESS_TOKENS_READ"}));
    CHECK(s.request("GET", "/v1/users/", first.bearer).status == 200);
    require_error(s.request("GET", "/v1/groups/", first.bearer), 403, "privilege_required_error");
    require_error(s.request("POST", "/v1/auth/access-tokens/", first.bearer, json{{"user", user_identity("admin")}}), 403);

    // List with the user filter; the metadata never shows the bearer token.
    auto list = s.request("GET", "/v1/auth/access-tokens/?user=svc-backup", first.bearer);
    REQUIRE(list.status == 200);
    REQUIRE(list.body.at("entries").size() == 1);
    const json meta = list.body["entries"][0];
    CHECK(meta.at("id") == first.id);
    CHECK(meta.at("user").at("name") == "svc-backup");
    CHECK(meta.at("user").at("auth_id") == svc_id);
    CHECK(meta.at("user").size() == 6);
    CHECK(meta.at("creator").at("auth_id") == "500");
    CHECK(meta.at("expiration_time") == "2099-01-01T00:00:00Z");
    CHECK(meta.at("enabled") == true);
    CHECK(list.body.at("paging").at("next").is_null());
    CHECK(list.raw.find(first.bearer.substr(10, 30)) == std::string::npos);
    for (const std::string& filter : std::vector<std::string>{"auth_id:" + svc_id, "local:svc-backup", "SVC-BACKUP"})
        CHECK(s.request("GET", "/v1/auth/access-tokens/?user=" + filter, admin).body.at("entries").size() == 1);
    CHECK(s.request("GET", "/v1/auth/access-tokens/?user=admin", admin).body.at("entries").empty());

    // Disable, re-enable.
    auto r = s.request("PATCH", "/v1/auth/access-tokens/" + first.id, admin, json{{"enabled", false}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("enabled") == false);
    require_error(s.request("GET", "/v1/session/who-am-i", first.bearer), 401, "access_token_disabled_error");
    r = s.request("PATCH", "/v1/auth/access-tokens/" + first.id, admin, json{{"enabled", true}});
    CHECK(r.body.at("enabled") == true);
    CHECK(s.request("GET", "/v1/session/who-am-i", first.bearer).status == 200);

    // Expire it by moving the expiration into the past, then extend it again.
    r = s.request("PATCH", "/v1/auth/access-tokens/" + first.id, admin, json{{"expiration_time", "2001-01-01T00:00:00Z"}});
    REQUIRE(r.status == 200);
    require_error(s.request("GET", "/v1/session/who-am-i", first.bearer), 401, "access_token_expired_error");
    r = s.request("PATCH", "/v1/auth/access-tokens/" + first.id, admin, json{{"expiration_time", nullptr}});
    CHECK(r.body.at("expiration_time").is_null());
    CHECK(s.request("GET", "/v1/session/who-am-i", first.bearer).status == 200);

    // Rotate: second token, switch to it, delete the first; a third is refused.
    const auto second = create_token(s, admin, json{{"auth_id", svc_id}});
    require_error(s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", user_identity("svc-backup")}}), 409,
                  "access_token_limit_error");
    CHECK(s.request("GET", "/v1/session/who-am-i", second.bearer).body.at("access_token_id") == second.id);
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + first.id, admin).status == 200);
    require_error(s.request("GET", "/v1/session/who-am-i", first.bearer), 401, "invalid_credentials_error");
    require_error(s.request("GET", "/v1/auth/access-tokens/" + first.id, admin), 404, "not_found_error");
    require_error(s.request("DELETE", "/v1/auth/access-tokens/" + first.id, admin), 404);
    const auto third = create_token(s, admin, user_identity("svc-backup"));
    CHECK(s.request("GET", "/v1/session/who-am-i", third.bearer).status == 200);

    // Get and delete the rest.
    r = s.request("GET", "/v1/auth/access-tokens/" + second.id, second.bearer);
    REQUIRE(r.status == 200);
    CHECK(r.body.at("id") == second.id);
    CHECK(r.raw.find("bearer") == std::string::npos);
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + second.id, admin).status == 200);
    require_error(s.request("GET", "/v1/session/who-am-i", second.bearer), 401);
    CHECK(s.request("GET", "/v1/auth/access-tokens/", admin).body.at("entries").size() == 1);
}

TEST_CASE("token creation errors: 400, 403, 404, 409", "[server][access_tokens]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "jane", std::string("jane-password"));
    const std::string jane = s.login("jane", "jane-password");

    const std::string path = "/v1/auth/access-tokens/";
    require_error(s.request("POST", path, jane, json{{"user", user_identity("jane")}}), 403, "privilege_required_error");
    require_error(s.request("GET", path, jane), 403);
    require_error(s.request("POST", path, admin, json{{"user", {{"name", "nobody"}}}}), 404, "not_found_error");
    require_error(s.request("POST", path, admin, json{{"user", {{"name", "Users"}}}}), 400, "bad_request_error");
    require_error(s.request("POST", path, admin, json{{"user", {{"domain", "BOGUS"}}}}), 400);
    require_error(s.request("POST", path, admin, json{{"user", {{"auth_id", "x"}}}}), 400);
    require_error(s.request("POST", path, admin, json{{"user", {{"domain", "ACTIVE_DIRECTORY"}, {"name", "x"}}}}), 404);
    require_error(s.request("POST", path, admin, json{{"expiration_time", "2030-01-01T00:00:00Z"}}), 400);
    auto r = s.request("POST", path, admin, json{{"user", user_identity("jane")}, {"expiration_time", "2030-01-01T00:00:00"}});
    require_error(r, 400);
    CHECK(r.body.at("description").get<std::string>().find("offset") != std::string::npos);
    require_error(s.request("POST", path, admin, json{{"user", user_identity("jane")}, {"expiration_time", "2030-02-30T00:00:00Z"}}), 400);
    require_error(s.request("POST", path, admin, json{{"user", user_identity("jane")}, {"expiration_time", 5}}), 400);
    require_error(s.request("POST", path, admin, json::array()), 400);

    // Malformed JSON text.
    auto c = s.client();
    auto raw = c->Post(path, {{"Authorization", "Bearer " + admin}}, "{\"user\": ", "application/json");
    REQUIRE(raw);
    CHECK(raw->status == 400);
    CHECK(json::parse(raw->body).at("description") == "request body is not valid JSON");

    // Bad ids in paths and queries.
    require_error(s.request("GET", path + "notanumber", admin), 404);
    require_error(s.request("GET", path + "12345", admin), 404);
    require_error(s.request("GET", path + "?limit=0", admin), 400);
    require_error(s.request("GET", path + "?limit=abc", admin), 400);
    require_error(s.request("GET", path + "?user=bogus:x", admin), 400);
    require_error(s.request("GET", path + "?user=nobody", admin), 404);

    // An expiration in the past is accepted; the token is simply expired.
    const auto past = create_token(s, admin, user_identity("jane"), "2020-01-01T00:00:00Z");
    require_error(s.request("GET", "/v1/session/who-am-i", past.bearer), 401, "access_token_expired_error");
}

TEST_CASE("every bad credential is a 401 with a JSON body", "[server][auth]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    const auto t = create_token(s, admin, user_identity("admin"));
    std::string wrong_secret = t.bearer;
    wrong_secret[50] = wrong_secret[50] == 'A' ? 'B' : 'A';  // breaks the checksum
    auto c = s.client();
    for (const std::string& header : {std::string(""), std::string("Bearer"), "Basic " + t.bearer, "Bearer  " + t.bearer,
                                     "Bearer " + t.bearer.substr(0, 81), "Bearer " + wrong_secret,
                                     "Bearer " + std::string(300, 'x'), "Bearer session-v1:" + std::string(88, 'A')}) {
        INFO(header);
        httplib::Headers h;
        if (!header.empty()) h.emplace("Authorization", header);
        const auto r = c->Get("/v1/session/who-am-i", h);
        REQUIRE(r);
        CHECK(r->status == 401);
        const json body = json::parse(r->body);
        CHECK(body.at("error_class").get<std::string>().find("error") != std::string::npos);
        CHECK(r->body.find(t.bearer.substr(10, 20)) == std::string::npos);
    }
    // The log records the failures with reasons and token ids, never the token.
    const std::string log = s.log();
    CHECK(log.find("\"reason\":\"bad_checksum\"") != std::string::npos);
    CHECK(log.find("\"reason\":\"bad_scheme\"") != std::string::npos);
    CHECK(log.find(t.bearer.substr(10)) == std::string::npos);
}

TEST_CASE("limits: 413 for a big body, 431 for a big header", "[server][limits]") {
    temp_dir dir;
    server_process s(dir.path);
    auto c = s.client();
    const auto big = c->Post("/v1/session/login", std::string(70 * 1024, 'a'), "application/json");
    REQUIRE(big);
    CHECK(big->status == 413);
    CHECK(json::parse(big->body).at("error_class") == "request_too_large_error");
    for (std::size_t n : {5000u, 9000u}) {
        auto c2 = s.client();
        const auto r = c2->Get("/v1/version", {{"X-Padding", std::string(n, 'a')}});
        REQUIRE(r);
        CHECK(r->status == 431);
        CHECK(json::parse(r->body).at("error_class") == "request_header_too_large_error");
    }
    const auto unknown = c->Get("/v1/no/such/endpoint");
    REQUIRE(unknown);
    CHECK(unknown->status == 404);
    CHECK(json::parse(unknown->body).at("error_class") == "not_found_error");
}

TEST_CASE("paging through tokens with limit and paging.next", "[server][access_tokens]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    std::set<std::string> created;
    for (int i = 0; i < 3; ++i) {
        create_user(s, admin, "pager" + std::to_string(i));
        for (int k = 0; k < 2; ++k) created.insert(create_token(s, admin, user_identity("pager" + std::to_string(i))).id);
    }
    std::set<std::string> seen;
    std::string next = "/v1/auth/access-tokens/?limit=4";
    int pages = 0;
    while (!next.empty()) {
        const auto r = s.request("GET", next, admin);
        REQUIRE(r.status == 200);
        REQUIRE(r.body.at("entries").size() <= 4);
        for (const auto& e : r.body["entries"]) CHECK(seen.insert(e.at("id").get<std::string>()).second);
        next = r.body["paging"]["next"].is_null() ? "" : r.body["paging"]["next"].get<std::string>();
        ++pages;
        REQUIRE(pages < 10);
    }
    CHECK(pages == 2);
    CHECK(seen == created);
    // With a user filter, next keeps the filter.
    const auto r = s.request("GET", "/v1/auth/access-tokens/?user=pager1&limit=1", admin);
    CHECK(r.body["paging"]["next"].get<std::string>().find("user=pager1") != std::string::npos);
    const auto r2 = s.request("GET", r.body["paging"]["next"].get<std::string>(), admin);
    CHECK(r2.body["entries"].size() == 1);
    CHECK(r2.body["entries"][0]["user"]["name"] == "pager1");
    CHECK(r2.body["paging"]["next"].is_null());
}

TEST_CASE("users, groups and memberships", "[server][users]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    const std::string id = create_user(s, admin, "alice", std::string("alice-pw"));
    require_error(s.request("POST", "/v1/users/", admin, json{{"name", "ALICE"}}), 409, "name_conflict_error");
    require_error(s.request("POST", "/v1/users/", admin, json{{"name", "bad:name"}}), 400);
    require_error(s.request("POST", "/v1/users/", admin, json{{"name", "x"}, {"primary_group", "999"}}), 400);
    require_error(s.request("POST", "/v1/users/", admin, json{{"name", "x"}, {"uid", "abc"}}), 400);

    auto r = s.request("GET", "/v1/users/" + id, admin);
    REQUIRE(r.status == 200);
    CHECK(r.body.at("name") == "alice");
    CHECK(r.body.at("primary_group") == "513");
    CHECK_FALSE(r.body.contains("password"));
    require_error(s.request("GET", "/v1/users/99999", admin), 404);

    r = s.request("PUT", "/v1/users/" + id, admin,
                  json{{"id", id}, {"name", "alice2"}, {"primary_group", "513"}, {"uid", "2000"}, {"home_directory", "/home/a"},
                       {"password", nullptr}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("name") == "alice2");
    CHECK(r.body.at("uid") == "2000");
    CHECK(s.login("alice2", "alice-pw").size() > 0);  // password unchanged

    // Groups and members.
    r = s.request("POST", "/v1/groups/", admin, json{{"name", "operators"}, {"gid", ""}});
    REQUIRE(r.status == 200);
    const std::string gid = r.body.at("id");
    CHECK(r.body.at("gid") == "");
    r = s.request("POST", "/v1/groups/" + gid + "/members/", admin, json{{"member_id", id}});
    REQUIRE(r.status == 200);
    r = s.request("GET", "/v1/groups/" + gid + "/members/", admin);
    REQUIRE(r.body.size() == 1);
    CHECK(r.body[0].at("id") == id);
    r = s.request("GET", "/v1/users/" + id + "/groups/", admin);
    REQUIRE(r.body.size() == 2);
    CHECK(r.body[0].at("name") == "Users");
    CHECK(r.body[1].at("name") == "operators");
    r = s.request("PUT", "/v1/groups/" + gid, admin, json{{"id", gid}, {"name", "ops"}, {"gid", "3000"}});
    CHECK(r.body.at("name") == "ops");
    CHECK(r.body.at("gid") == "3000");

    // A role held through the group gives its privileges.
    grant(s, admin, "GroupReaders", {"PRIVILEGE_LOCAL_GROUP_READ"}, json{{"name", "ops"}});
    const std::string alice = s.login("alice2", "alice-pw");
    CHECK(s.request("GET", "/v1/groups/", alice).status == 200);
    CHECK(s.request("GET", "/v1/session/roles", alice).body == json::array({"GroupReaders"}));
    CHECK(s.request("GET", "/v1/users/" + id + "/groups/", alice).status == 200);  // one's own groups
    REQUIRE(s.request("DELETE", "/v1/groups/" + gid + "/members/" + id, admin).status == 200);
    require_error(s.request("GET", "/v1/groups/", alice), 403);  // next request sees the change
    require_error(s.request("DELETE", "/v1/groups/" + gid + "/members/" + id, admin), 404);

    require_error(s.request("DELETE", "/v1/groups/513", admin), 400);
    REQUIRE(s.request("DELETE", "/v1/groups/" + gid, admin).status == 200);
    require_error(s.request("GET", "/v1/groups/" + gid, admin), 404);
    require_error(s.request("DELETE", "/v1/users/500", admin), 400);

    // identity/find and identity/expand.
    r = s.request("POST", "/v1/identity/find", admin, json{{"name", "alice2"}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("auth_id") == id);
    CHECK(r.body.at("domain") == "LOCAL");
    r = s.request("POST", "/v1/identity/expand", admin, json{{"id", {{"auth_id", id}}}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("type") == "USER");
    CHECK(r.body.at("id").at("name") == "alice2");
    CHECK(r.body.at("nfs_id").at("uid") == 2000);
    CHECK(r.body.at("group_ids").size() == 1);
    r = s.request("POST", "/v1/identity/expand", admin, json{{"id", {{"name", "Users"}}}});
    CHECK(r.body.at("type") == "GROUP");
    require_error(s.request("POST", "/v1/identity/find", admin, json{{"name", "nobody"}}), 404);
    require_error(s.request("POST", "/v1/identity/find", admin, json{{"name", "alice2"}, {"auth_id", "500"}}), 404);
    CHECK(s.request("POST", "/v1/identity/find", admin, json{{"name", "LOCAL\\alice2"}}).status == 200);
}

TEST_CASE("password changes end sessions and deleting a user ends its tokens", "[server][session]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    const std::string id = create_user(s, admin, "bob", std::string("bob-pw-1"));
    const std::string bob1 = s.login("bob", "bob-pw-1");
    const std::string bob2 = s.login("bob", "bob-pw-1");
    const auto token = create_token(s, admin, user_identity("bob"));

    require_error(s.request("POST", "/v1/session/change-password", bob1, json{{"old_password", "nope"}, {"new_password", "x"}}), 401);
    auto r = s.request("POST", "/v1/session/change-password", bob1, json{{"old_password", "bob-pw-1"}, {"new_password", "bob-pw-2"}});
    REQUIRE(r.status == 200);
    const std::string bob3 = r.body.at("bearer_token");
    require_error(s.request("GET", "/v1/session/who-am-i", bob2), 401, "session_ended_error");
    CHECK(s.request("GET", "/v1/session/who-am-i", bob3).status == 200);
    CHECK(s.request("GET", "/v1/session/who-am-i", token.bearer).status == 200);  // tokens survive
    require_error(s.request("POST", "/v1/session/login", "", json{{"username", "bob"}, {"password", "bob-pw-1"}}), 401);

    REQUIRE(s.request("POST", "/v1/users/" + id + "/setpassword", admin, json{{"new_password", "bob-pw-3"}}).status == 200);
    require_error(s.request("GET", "/v1/session/who-am-i", bob3), 401, "session_ended_error");
    const std::string bob4 = s.login("bob", "bob-pw-3");

    REQUIRE(s.request("DELETE", "/v1/users/" + id, admin).status == 200);
    require_error(s.request("GET", "/v1/session/who-am-i", bob4), 401);
    require_error(s.request("GET", "/v1/session/who-am-i", token.bearer), 401);
    require_error(s.request("GET", "/v1/auth/access-tokens/" + token.id, admin), 404);
}

TEST_CASE("ending sessions: all of a user's, or the caller's others, and access tokens survive", "[server][session]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    const std::string id = create_user(s, admin, "carol", std::string("carol-pw-1"));
    const std::string c1 = s.login("carol", "carol-pw-1");
    const std::string c2 = s.login("carol", "carol-pw-1");
    const auto token = create_token(s, admin, user_identity("carol"));

    // The caller's others: c1 gets a fresh session, c1 and c2 end.
    auto r = s.request("POST", "/v1/session/end-others", c1);
    REQUIRE(r.status == 200);
    const std::string c3 = r.body.at("bearer_token");
    require_error(s.request("GET", "/v1/session/who-am-i", c1), 401, "session_ended_error");
    require_error(s.request("GET", "/v1/session/who-am-i", c2), 401, "session_ended_error");
    CHECK(s.request("GET", "/v1/session/who-am-i", c3).status == 200);
    CHECK(s.request("GET", "/v1/session/who-am-i", token.bearer).status == 200);
    // Through an access token: every session ends, and no new one is given.
    r = s.request("POST", "/v1/session/end-others", token.bearer);
    REQUIRE(r.status == 200);
    CHECK(r.body.at("bearer_token").is_null());
    require_error(s.request("GET", "/v1/session/who-am-i", c3), 401, "session_ended_error");
    CHECK(s.request("GET", "/v1/session/who-am-i", token.bearer).status == 200);

    // All of a user's, by an administrator; the password still works.
    const std::string c4 = s.login("carol", "carol-pw-1");
    require_error(s.request("POST", "/v1/users/" + id + "/sessions/end", ""), 401);
    require_error(s.request("POST", "/v1/users/" + id + "/sessions/end", c4), 403, "privilege_required_error");
    CHECK(s.request("GET", "/v1/session/who-am-i", c4).status == 200);
    REQUIRE(s.request("POST", "/v1/users/" + id + "/sessions/end", admin).status == 200);
    require_error(s.request("GET", "/v1/session/who-am-i", c4), 401, "session_ended_error");
    CHECK(s.request("GET", "/v1/session/who-am-i", token.bearer).status == 200);
    CHECK(s.request("GET", "/v1/session/who-am-i", admin).status == 200);
    CHECK(s.request("GET", "/v1/session/who-am-i", s.login("carol", "carol-pw-1")).status == 200);
    require_error(s.request("POST", "/v1/users/999999/sessions/end", admin), 404);
}

TEST_CASE("roles: CRUD, members, privileges", "[server][roles]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    auto r = s.request("GET", "/v1/auth/privileges/", admin);
    REQUIRE(r.status == 200);
    CHECK(r.body.size() == 127);
    CHECK(r.body.at("PRIVILEGE_ACCESS_TOKENS_READ") == "Read access tokens");

    r = s.request("GET", "/v1/auth/roles/", admin);
    REQUIRE(r.body.contains("Administrators"));
    CHECK(r.body["Administrators"]["privileges"].size() == 127);
    CHECK(r.body["Observers"]["privileges"].size() == 63);

    r = s.request("POST", "/v1/auth/roles/", admin,
                  json{{"name", "Auditors"}, {"description", "read audit"}, {"privileges", {"PRIVILEGE_AUDIT_READ"}}});
    REQUIRE(r.status == 200);
    require_error(s.request("POST", "/v1/auth/roles/", admin,
                            json{{"name", "auditors"}, {"description", "d"}, {"privileges", json::array()}}),
                  409);
    require_error(s.request("POST", "/v1/auth/roles/", admin,
                            json{{"name", "X"}, {"description", "d"}, {"privileges", {"PRIVILEGE_NOPE"}}}),
                  400);
    r = s.request("PATCH", "/v1/auth/roles/Auditors", admin, json{{"description", "changed"}});
    CHECK(r.body.at("description") == "changed");
    CHECK(r.body.at("privileges") == json::array({"PRIVILEGE_AUDIT_READ"}));
    r = s.request("PUT", "/v1/auth/roles/Auditors", admin,
                  json{{"name", "Auditors"}, {"description", "d2"}, {"privileges", {"PRIVILEGE_AUDIT_WRITE"}}});
    CHECK(r.body.at("privileges") == json::array({"PRIVILEGE_AUDIT_WRITE"}));

    const std::string id = create_user(s, admin, "carol");
    r = s.request("POST", "/v1/auth/roles/Auditors/members", admin, json{{"name", "carol"}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("auth_id") == id);
    r = s.request("GET", "/v1/auth/roles/Auditors/members", admin);
    REQUIRE(r.body.at("members").contains(id));
    CHECK(r.body.at("paging").at("next").is_null());
    CHECK(s.request("GET", "/v1/auth/roles/Auditors/members/" + id, admin).status == 200);
    CHECK(s.request("DELETE", "/v1/auth/roles/Auditors/members/" + id, admin).status == 200);
    require_error(s.request("GET", "/v1/auth/roles/Auditors/members/" + id, admin), 404);

    // Paged members of Administrators.
    s.request("POST", "/v1/auth/roles/Administrators/members", admin, json{{"auth_id", id}});
    r = s.request("GET", "/v1/auth/roles/Administrators/members?limit=1", admin);
    REQUIRE(r.body.at("members").size() == 1);
    REQUIRE(r.body.at("paging").at("next").is_string());
    r = s.request("GET", r.body["paging"]["next"].get<std::string>(), admin);
    CHECK(r.body.at("members").size() == 1);
    CHECK(r.body.at("members").contains(id));

    require_error(s.request("DELETE", "/v1/auth/roles/Administrators", admin), 400);
    require_error(s.request("PATCH", "/v1/auth/roles/Administrators", admin, json{{"privileges", json::array()}}), 400);
    REQUIRE(s.request("DELETE", "/v1/auth/roles/Auditors", admin).status == 200);
    require_error(s.request("GET", "/v1/auth/roles/Auditors", admin), 404);
    // A role change takes effect on the next request.
    const std::string jo_id = create_user(s, admin, "jo", std::string("jo-pw"));
    const std::string jo = s.login("jo", "jo-pw");
    require_error(s.request("GET", "/v1/auth/roles/", jo), 403);
    s.request("POST", "/v1/auth/roles/Observers/members", admin, json{{"auth_id", jo_id}});
    CHECK(s.request("GET", "/v1/auth/roles/", jo).status == 200);
}

TEST_CASE("state survives a restart and deleted stays deleted", "[server][persistence]") {
    temp_dir dir;
    created_token kept, deleted;
    std::string session;
    {
        server_process s(dir.path);
        const std::string admin = s.login();
        create_user(s, admin, "persist");
        grant(s, admin, "Keepers", {"PRIVILEGE_ACCESS_TOKENS_READ"}, json{{"name", "persist"}});
        kept = create_token(s, admin, user_identity("persist"), "2099-01-01T00:00:00Z");
        deleted = create_token(s, admin, user_identity("persist"));
        REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + deleted.id, admin).status == 200);
        REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + kept.id, admin, json{{"enabled", false}}).status == 200);
        REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + kept.id, admin, json{{"enabled", true}}).status == 200);
        session = admin;
        CHECK(s.stop() == 0);
        CHECK(s.log().find("\"event\":\"stopped\"") != std::string::npos);
    }
    server_process s(dir.path);
    CHECK(s.log().find("\"tokens\":1") != std::string::npos);
    const auto me = s.request("GET", "/v1/session/who-am-i", kept.bearer);
    REQUIRE(me.status == 200);
    CHECK(me.body.at("name") == "persist");
    CHECK(me.body.at("privileges") == json::array({"PRIVILEGE_ACCESS_TOKENS_READ"}));
    require_error(s.request("GET", "/v1/session/who-am-i", deleted.bearer), 401);
    CHECK(s.request("GET", "/v1/session/who-am-i", session).status == 200);  // session key persisted
    const auto meta = s.request("GET", "/v1/auth/access-tokens/" + kept.id, session);
    CHECK(meta.body.at("expiration_time") == "2099-01-01T00:00:00Z");
    CHECK(meta.body.at("enabled") == true);
}

TEST_CASE("no bearer secret or password appears in the data dir or the log", "[server][security]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "svc", std::string("svc-password-plain"));
    const auto t = create_token(s, admin, user_identity("svc"));
    s.request("GET", "/v1/session/who-am-i", t.bearer);
    std::string bad = t.bearer;
    bad[60] = bad[60] == 'A' ? 'B' : 'A';
    s.request("GET", "/v1/session/who-am-i", bad);
    s.request("POST", "/v1/session/login", "", json{{"username", "svc"}, {"password", "wrong-password-plain"}});
    const std::string log = s.log();
    CHECK(s.stop() == 0);

    const auto parsed = tokenauth::parse_access_token(t.bearer);
    REQUIRE(parsed.ok());
    const std::string raw_secret(std::begin(parsed->secret), std::end(parsed->secret));
    std::vector<std::string> needles = {t.bearer.substr(10), t.bearer.substr(30, 40), raw_secret.substr(0, 16),
                                        test_server::admin_password, "svc-password-plain", "wrong-password-plain",
                                        admin.substr(11)};
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
        const std::string content = read_file(entry.path().string());
        ++files;
        for (const auto& n : needles) {
            INFO(entry.path().string());
            CHECK(content.find(n) == std::string::npos);
        }
        struct stat st {};
        ::stat(entry.path().c_str(), &st);
        CHECK((st.st_mode & 0777) == 0600);
    }
    CHECK(files >= 3);
    for (const auto& n : needles) CHECK(log.find(n) == std::string::npos);
    CHECK(log.find(t.id) != std::string::npos);  // ids are logged
    struct stat st {};
    ::stat(dir.path.c_str(), &st);
    CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("plain HTTP is opt-in and loopback-only", "[server][config]") {
    temp_dir dir;
    {
        server_process s(dir.path, {"--http"});
        const auto r = s.request("GET", "/v1/version");
        CHECK(r.status == 200);
    }
    const std::string cmd = std::string(TOKENAUTH_SERVER_BIN) + " --http --listen 0.0.0.0:0 --data-dir " + dir.path +
                            " 2>/dev/null";
    CHECK(WEXITSTATUS(std::system(cmd.c_str())) == 2);
    const std::string help = std::string(TOKENAUTH_SERVER_BIN) + " --help > " + dir.path + "/help.txt";
    REQUIRE(std::system(help.c_str()) == 0);
    const std::string text = read_file(dir.path + "/help.txt");
    for (const char* flag : {"--listen", "--data-dir", "--tls-cert", "--tls-key", "--http", "--allow-insecure-http",
                             "--threads", "TOKENAUTH_ADMIN_PASSWORD"})
        CHECK(text.find(flag) != std::string::npos);
}

TEST_CASE("/livez and /readyz answer without credentials and outside the failure throttle", "[api]") {
    temp_dir dir;
    server_process s(dir.path, {"--auth-failures-per-minute", "2"});
    for (int i = 0; i < 3; ++i) s.request("GET", "/v1/session/who-am-i", "access-v1:nonsense");
    CHECK(s.request("GET", "/v1/session/who-am-i", "access-v1:nonsense").status == 429);  // this address is throttled
    const auto live = s.request("GET", "/livez");
    CHECK(live.status == 200);
    CHECK(live.body == nlohmann::json{{"status", "ok"}});
    const auto ready = s.request("GET", "/readyz");
    CHECK(ready.status == 200);
    CHECK(ready.body == nlohmann::json{{"status", "ready"}});
}

TEST_CASE("X-Request-Id: a well-formed one is kept, any other replaced, and it is in the header, the error body and the log", "[api]") {
    temp_dir dir;
    server_process s(dir.path);
    auto r = s.request_text("GET", "/v1/session/who-am-i", "", "", {{"X-Request-Id", "job-42.retry_1"}});
    CHECK(r.status == 401);
    CHECK(r.headers.find("X-Request-Id")->second == "job-42.retry_1");
    CHECK(r.body.at("request_id") == "job-42.retry_1");
    CHECK(r.body.at("error_class") == "authentication_required_error");  // the spec's fields stay
    // On every log line of the request: a login logs one.
    r = s.request_text("POST", "/v1/session/login", "", json{{"username", "admin"}, {"password", test_server::admin_password}}.dump(),
                       {{"X-Request-Id", "login-7"}});
    REQUIRE(r.status == 200);
    CHECK(r.headers.find("X-Request-Id")->second == "login-7");
    CHECK(s.log().find("\"event\":\"login\"") != std::string::npos);
    CHECK(s.log().find("\"request_id\":\"login-7\"") != std::string::npos);
    // Too long, or characters outside [A-Za-z0-9._-], or none: a generated one.
    for (const std::string& offered : {std::string(65, 'a'), std::string("has space"), std::string("x\"y"), std::string()}) {
        httplib::Headers h;
        if (!offered.empty()) h.emplace("X-Request-Id", offered);
        r = s.request_text("GET", "/v1/version", "", "", h);
        const std::string id = r.headers.find("X-Request-Id")->second;
        CHECK(id != offered);
        CHECK(id.size() == 32);
        CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    }
    // Unknown paths (cpp-httplib's own answers) carry one too.
    r = s.request("GET", "/no/such/path");
    CHECK(r.status == 404);
    CHECK(r.body.at("request_id") == r.headers.find("X-Request-Id")->second);
}

namespace {
/// The path a Link: <...>; rel="next" header names, or "" when there is none.
std::string next_link(const test_server::response& r) {
    const auto it = r.headers.find("Link");
    if (it == r.headers.end()) return "";
    const std::string& v = it->second;
    REQUIRE(v.front() == '<');
    REQUIRE(v.find(">; rel=\"next\"") != std::string::npos);
    return v.substr(1, v.find('>') - 1);
}

/// Every page of a list, following Link headers; the items' "name"s in order.
std::vector<std::string> names_by_pages(const server_process& s, const std::string& admin, std::string path, bool object) {
    std::vector<std::string> out;
    for (int pages = 0; !path.empty(); ++pages) {
        REQUIRE(pages < 100);
        const auto r = s.request("GET", path, admin);
        REQUIRE(r.status == 200);
        for (const auto& item : r.body) out.push_back(item.at("name"));
        (void)object;
        path = next_link(r);
    }
    return out;
}
}  // namespace

TEST_CASE("list paging: limit, after, name_prefix and sort on users, groups and roles, and without them nothing changes",
          "[server][api][paging]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    for (int i = 0; i < 12; ++i) create_user(s, admin, (i % 2 ? "Zed-" : "amy-") + std::to_string(100 + i));
    for (int i = 0; i < 5; ++i) REQUIRE(s.request("POST", "/v1/groups/", admin, json{{"name", "team-" + std::to_string(i)}, {"gid", ""}}).status == 200);
    for (int i = 0; i < 4; ++i)
        REQUIRE(s.request("POST", "/v1/auth/roles/", admin, json{{"name", "Role" + std::to_string(i)}, {"description", "d"},
                                                                 {"privileges", json::array()}})
                    .status == 200);
    // Without the parameters: every user, in one array, no Link header (qq's view).
    const auto whole = s.request("GET", "/v1/users/", admin);
    REQUIRE(whole.body.is_array());
    CHECK(whole.body.size() == 14);
    CHECK(whole.headers.count("Link") == 0);
    std::vector<std::string> all;
    for (const auto& u : whole.body) all.push_back(u.at("name"));
    // Pages of 5 in id order: the same users, in the same order, in 3 pages.
    const auto first = s.request("GET", "/v1/users/?limit=5", admin);
    CHECK(first.body.size() == 5);
    CHECK(next_link(first).rfind("/v1/users/?limit=5&after=", 0) == 0);
    CHECK(names_by_pages(s, admin, "/v1/users/?limit=5", false) == all);
    // name_prefix: the beginning of the name, any case; sort=name by the name's key.
    const auto zed = s.request("GET", "/v1/users/?name_prefix=zED-&sort=name", admin);
    REQUIRE(zed.body.size() == 6);
    CHECK(zed.body[0].at("name") == "Zed-101");
    CHECK(zed.body[5].at("name") == "Zed-111");
    const auto by_name = names_by_pages(s, admin, "/v1/users/?limit=4&sort=name", false);
    REQUIRE(by_name.size() == 14);
    CHECK(by_name.front() == "admin");
    CHECK(by_name[1] == "amy-100");
    CHECK(by_name.back() == "Zed-111");
    // Groups the same way; roles (an object) in name order.
    CHECK(names_by_pages(s, admin, "/v1/groups/?limit=2&name_prefix=team-", false).size() == 5);
    const auto roles = s.request("GET", "/v1/auth/roles/?limit=3", admin);
    REQUIRE(roles.body.is_object());
    CHECK(roles.body.size() == 3);
    CHECK(roles.body.begin().key() == "Administrators");
    std::size_t role_count = 0;
    for (std::string path = "/v1/auth/roles/?limit=3"; !path.empty();) {
        const auto r = s.request("GET", path, admin);
        role_count += r.body.size();
        path = next_link(r);
    }
    CHECK(role_count == 6);
    // Bad parameters are 400 with the reason.
    require_error(s.request("GET", "/v1/users/?limit=0", admin), 400);
    require_error(s.request("GET", "/v1/users/?sort=age", admin), 400);
    require_error(s.request("GET", "/v1/users/?after=x", admin), 400);
}

TEST_CASE("access token list: name_prefix finds tokens by the beginning of their name, across pages", "[server][api][paging]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    for (int i = 0; i < 3; ++i) {
        const std::string user = "svc" + std::to_string(i);
        create_user(s, admin, user);
        for (const char* name : {"Backup nightly", "deploy"})
            REQUIRE(s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", user_identity(user)}, {"name", name}}).status == 200);
    }
    std::vector<std::string> found;
    for (std::string path = "/v1/auth/access-tokens/?limit=2&name_prefix=backup"; !path.empty();) {
        const auto r = s.request("GET", path, admin);
        REQUIRE(r.status == 200);
        for (const auto& t : r.body.at("entries")) found.push_back(t.at("name"));
        const json& next = r.body.at("paging").at("next");
        path = next.is_string() ? next.get<std::string>() : "";
        if (!path.empty()) CHECK(path.find("name_prefix=backup") != std::string::npos);
    }
    CHECK(found == std::vector<std::string>(3, "Backup nightly"));
    CHECK(s.request("GET", "/v1/auth/access-tokens/", admin).body.at("entries").size() == 6);
}

TEST_CASE("the token list is streamed: byte for byte the dump() of its entries read one by one, for 0, 1 and N, with and without limit",
          "[server][access_tokens][stream]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "holds-none");
    create_user(s, admin, "holds-one");
    std::vector<std::string> ids;  // in creation order, the list's order
    ids.push_back(create_token(s, admin, user_identity("holds-one")).id);
    for (int i = 0; i < 80; ++i) {  // about 90 kB of entries: more than one piece
        const std::string name = "bulk-" + std::to_string(i);
        create_user(s, admin, name);
        for (int k = 0; k < 2; ++k) ids.push_back(create_token(s, admin, user_identity(name)).id);
    }
    // The oracle: each entry as GET returns it alone, and the whole body as dump() writes it.
    std::vector<json> entries;
    for (const std::string& id : ids) {
        const auto r = s.request("GET", "/v1/auth/access-tokens/" + id, admin);
        REQUIRE(r.status == 200);
        entries.push_back(r.body);
    }
    const auto body = [&](std::size_t from, std::size_t to, const json& next) {
        json list = json::array();
        for (std::size_t i = from; i < to; ++i) list.push_back(entries[i]);
        return json{{"entries", list}, {"paging", {{"next", next}}}}.dump();
    };
    const auto header = [](const test_server::response& r, const std::string& name) {
        const auto it = r.headers.find(name);
        return it == r.headers.end() ? std::string() : it->second;
    };

    const auto all = s.request("GET", "/v1/auth/access-tokens/", admin);
    REQUIRE(all.status == 200);
    CHECK(all.raw == body(0, ids.size(), nullptr));
    CHECK(header(all, "Transfer-Encoding") == "chunked");  // longer than a piece
    CHECK(header(all, "Content-Type") == "application/json");

    const auto page = s.request("GET", "/v1/auth/access-tokens/?limit=100", admin);
    REQUIRE(page.status == 200);
    const std::string next = page.body.at("paging").at("next").get<std::string>();
    CHECK(next.rfind("/v1/auth/access-tokens/?limit=100&after=", 0) == 0);
    CHECK(page.raw == body(0, 100, next));
    const auto rest = s.request("GET", next, admin);
    CHECK(rest.raw == body(100, ids.size(), nullptr));

    const auto one = s.request("GET", "/v1/auth/access-tokens/?user=holds-one", admin);
    CHECK(one.raw == body(0, 1, nullptr));
    CHECK(header(one, "Content-Length") == std::to_string(one.raw.size()));  // within a piece: a length, as always
    CHECK(header(one, "Transfer-Encoding").empty());
    for (const char* query : {"?user=holds-none", "?user=holds-none&limit=5"}) {
        const auto none = s.request("GET", std::string("/v1/auth/access-tokens/") + query, admin);
        CHECK(none.raw == R"({"entries":[],"paging":{"next":null}})");
    }
    // HEAD: the head a long GET has, no body.
    test_server::raw_connection head(s.port(), true);
    REQUIRE(head.send("HEAD /v1/auth/access-tokens/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " +
                      admin + "\r\n\r\n"));
    const std::string head_only = head.receive(std::chrono::seconds(30));
    CHECK(head_only.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(head_only.find("\r\nTransfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(head_only.size() == head_only.find("\r\n\r\n") + 4);
    // An HTTP/1.0 client (which has no chunks) gets the whole body with a length.
    test_server::raw_connection raw(s.port(), true);
    REQUIRE(raw.send("GET /v1/auth/access-tokens/ HTTP/1.0\r\nAuthorization: Bearer " + admin + "\r\n\r\n"));
    const std::string old = raw.receive(std::chrono::seconds(30));
    CHECK(old.find("\r\nContent-Length: " + std::to_string(all.raw.size()) + "\r\n") != std::string::npos);
    CHECK(old.substr(old.find("\r\n\r\n") + 4) == all.raw);
}
