// Per-token network bounds (allowed_cidrs): a token is accepted only from an address within
// them, everywhere a credential is checked, and refused like an unknown token otherwise.
// Real peer addresses: requests come from chosen 127.x.y.z source addresses.
#include <catch2/catch.hpp>
#include <tokenauth/token.hpp>

#include "api_helpers.hpp"
#include "raw_http.hpp"

using nlohmann::json;
using test_server::raw_request;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;

namespace {

int who_am_i_from(const server_process& s, const std::string& from, const std::string& bearer,
                  const std::string& forwarded_for = "") {
    std::vector<std::string> headers = {"Authorization: Bearer " + bearer};
    if (!forwarded_for.empty()) headers.push_back("X-Forwarded-For: " + forwarded_for);
    return raw_request(from, s.port(), "GET", "/v1/session/who-am-i", headers).status;
}

/// The error body without its request id.
json error_from(const server_process& s, const std::string& from, const std::string& bearer) {
    json body = json::parse(raw_request(from, s.port(), "GET", "/v1/session/who-am-i", {"Authorization: Bearer " + bearer}).body);
    body.erase("request_id");
    return body;
}

created_token create_bounded(const server_process& s, const std::string& admin, const json& cidrs) {
    const auto r = s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", user_identity("svc")}, {"allowed_cidrs", cidrs}});
    INFO(r.raw);
    REQUIRE(r.status == 200);
    return {r.body.at("id").get<std::string>(), r.body.at("bearer_token").get<std::string>()};
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("allowed_cidrs: accepted within, refused outside as an unknown token, audited", "[server][cidrs]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const auto t = create_bounded(s, admin, json{"2001:DB8::/32", "127.0.0.2", "127.0.0.2/32"});
    const auto shown = s.request("GET", "/v1/auth/access-tokens/" + t.id, admin);
    CHECK(shown.body.at("allowed_cidrs") == json{"127.0.0.2/32", "2001:db8::/32"});  // canonical, sorted, once

    CHECK(who_am_i_from(s, "127.0.0.2", t.bearer) == 200);
    CHECK(who_am_i_from(s, "127.0.0.3", t.bearer) == 401);
    // Outside, the answer is the one a made-up token gets: the bounds are not told.
    const std::string made_up = tokenauth::encode_access_token(tokenauth::generate_access_token());
    CHECK(error_from(s, "127.0.0.3", t.bearer) == error_from(s, "127.0.0.3", made_up));
    const auto unbounded = create_token(s, admin, user_identity("admin"));
    const std::string audit = test_server::read_file(dir.path + "/audit.log");
    CHECK(count_of(audit, "\"token_address_refused\"") == 2);  // each refusal, the made-up token's not
    CHECK(audit.find("\"client\":\"127.0.0.3\"") != std::string::npos);

    // An unbounded token still works from anywhere.
    CHECK(who_am_i_from(s, "127.0.0.3", unbounded.bearer) == 200);

    // The bounds change with a PATCH, and null removes them.
    auto r = s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"allowed_cidrs", json{"127.0.0.3/32"}}});
    REQUIRE(r.status == 200);
    CHECK(r.body.at("allowed_cidrs") == json{"127.0.0.3/32"});
    CHECK(who_am_i_from(s, "127.0.0.2", t.bearer) == 401);
    CHECK(who_am_i_from(s, "127.0.0.3", t.bearer) == 200);
    r = s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"name", "kept"}});
    CHECK(r.body.at("allowed_cidrs") == json{"127.0.0.3/32"});  // absent: unchanged
    r = s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"allowed_cidrs", nullptr}});
    CHECK(r.body.at("allowed_cidrs").is_null());
    CHECK(who_am_i_from(s, "127.0.0.9", t.bearer) == 200);
}

TEST_CASE("allowed_cidrs: bad lists are 400 and create nothing", "[server][cidrs]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    json seventeen = json::array();
    for (int i = 1; i <= 17; ++i) seventeen.push_back(std::to_string(i) + ".0.0.0/8");
    for (const json& bad : {json::array(), json("10.0.0.0/8"), json{"10.0.0.1/8"}, json{"10.0.0.0/33"}, json{"nowhere"},
                            json{1}, json{"fe80::1%eth0"}, json{" 10.0.0.0/8"}, seventeen}) {
        INFO(bad.dump());
        const auto r = s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", user_identity("svc")}, {"allowed_cidrs", bad}});
        require_error(r, 400);
        CHECK(r.body.at("description").get<std::string>().find("allowed_cidrs") != std::string::npos);
    }
    CHECK(s.request("GET", "/v1/auth/access-tokens/", admin).body.at("entries").empty());
    const auto t = create_token(s, admin, user_identity("svc"));
    require_error(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"allowed_cidrs", json{"10.0.0.1/8"}}}), 400);
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + t.id, admin).body.at("allowed_cidrs").is_null());
}

TEST_CASE("allowed_cidrs survive a restart and carry over to a rotation's successor", "[server][cidrs]") {
    temp_dir dir;
    created_token t;
    std::string admin;
    {
        server_process s(dir.path, {"--http"});
        admin = s.login();
        create_user(s, admin, "svc");
        t = create_bounded(s, admin, json{"127.0.0.2/32"});
    }
    server_process s(dir.path, {"--http"});
    admin = s.login();
    CHECK(who_am_i_from(s, "127.0.0.3", t.bearer) == 401);  // the index was loaded with the bounds
    const auto rotated = raw_request("127.0.0.2", s.port(), "POST", "/v1/auth/access-tokens/" + t.id + "/rotate",
                                     {"Authorization: Bearer " + t.bearer, "Content-Type: application/json"}, "{}");
    REQUIRE(rotated.status == 200);
    const json next = json::parse(rotated.body);
    CHECK(s.request("GET", "/v1/auth/access-tokens/" + next.at("id").get<std::string>(), admin).body.at("allowed_cidrs") ==
          json{"127.0.0.2/32"});
    const std::string successor = next.at("bearer_token");
    CHECK(who_am_i_from(s, "127.0.0.2", successor) == 200);
    CHECK(who_am_i_from(s, "127.0.0.3", successor) == 401);
}

TEST_CASE("allowed_cidrs behind a trusted proxy, and in verify and introspection", "[server][cidrs][edge]") {
    temp_dir dir;
    server_process s(dir.path, {"--http", "--trusted-proxy", "127.0.0.1"});
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const auto t = create_bounded(s, admin, json{"198.51.100.0/24"});
    // The proxy's forwarded client is the address; from elsewhere the header is not believed.
    CHECK(who_am_i_from(s, "127.0.0.1", t.bearer, "198.51.100.7") == 200);
    CHECK(who_am_i_from(s, "127.0.0.1", t.bearer, "203.0.113.7") == 401);
    CHECK(who_am_i_from(s, "127.0.0.5", t.bearer, "198.51.100.7") == 401);
    const auto verify = [&](const std::string& forwarded) {
        return raw_request("127.0.0.1", s.port(), "GET", "/v1/auth/verify",
                           {"Authorization: Bearer " + t.bearer, "X-Forwarded-For: " + forwarded})
            .status;
    };
    CHECK(verify("198.51.100.9") == 200);
    CHECK(verify("203.0.113.9") == 401);
    // Introspection: inactive unless the reviewer says where the token was presented from.
    const auto introspect = [&](const std::string& form) {
        return json::parse(raw_request("127.0.0.1", s.port(), "POST", "/v1/auth/introspect",
                                       {"Authorization: Bearer " + admin, "Content-Type: application/x-www-form-urlencoded"},
                                       form)
                               .body);
    };
    CHECK(introspect("token=" + form_encoded(t.bearer)) == json{{"active", false}});
    CHECK(introspect("token=" + form_encoded(t.bearer) + "&client_address=203.0.113.9") == json{{"active", false}});
    CHECK(introspect("token=" + form_encoded(t.bearer) + "&client_address=198.51.100.9").at("active") == true);
    const auto bad = raw_request("127.0.0.1", s.port(), "POST", "/v1/auth/introspect",
                                 {"Authorization: Bearer " + admin, "Content-Type: application/x-www-form-urlencoded"},
                                 "token=" + form_encoded(t.bearer) + "&client_address=nowhere");
    CHECK(bad.status == 400);
}
