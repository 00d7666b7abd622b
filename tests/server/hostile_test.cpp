// Hostile clients (issue: no session resurrection, no unauthenticated denial of service).
// Each test is an attack that succeeded against an earlier server; all run the real binary.
#include <catch2/catch.hpp>

#include "api_helpers.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;

TEST_CASE("a deleted user's session never comes back as the next user created", "[server][hostile][session]") {
    temp_dir dir;
    std::string victim_id, victim_sid, old_session;
    {
        server_process s(dir.path);
        const std::string admin = s.login();
        victim_id = create_user(s, admin, "first", std::string("first-password"));
        old_session = s.login("first", "first-password");
        REQUIRE(s.request("GET", "/v1/session/who-am-i", old_session).status == 200);
        victim_sid = s.request("GET", "/v1/users/" + victim_id, admin).body.at("sid").get<std::string>();

        REQUIRE(s.request("DELETE", "/v1/users/" + victim_id, admin).status == 200);
        // The next user created gets a new id and SID, and the old session is not its own.
        const std::string next_id = create_user(s, admin, "second", std::string("second-password"));
        CHECK(next_id != victim_id);
        const auto next = s.request("GET", "/v1/users/" + next_id, admin);
        CHECK(next.body.at("sid") != victim_sid);
        const auto r = s.request("GET", "/v1/session/who-am-i", old_session);
        INFO(r.raw);
        CHECK(r.status == 401);
        // The highest id is deleted too, then the server restarts.
        REQUIRE(s.request("DELETE", "/v1/users/" + next_id, admin).status == 200);
    }
    server_process s(dir.path);
    const std::string admin = s.login();
    const std::string third = create_user(s, admin, "third", std::string("third-password"));
    CHECK(std::stoull(third) > std::stoull(victim_id) + 1);
    CHECK(s.request("GET", "/v1/users/" + third, admin).body.at("sid") != victim_sid);
    const auto r = s.request("GET", "/v1/session/who-am-i", old_session);
    INFO(r.raw);
    CHECK(r.status == 401);
    CHECK(r.body.at("error_class") == "invalid_credentials_error");
}
