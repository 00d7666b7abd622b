// What the server answers around the spec's endpoints: a wrong method on a known path, the
// version everywhere it is reported, what a failed credential leaves in the log, and the
// identity grammar it serves to the web UI.
#include <catch2/catch.hpp>
#include <tokenauth/identity_json.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sys/wait.h>

#include "api_helpers.hpp"
#include "http/method.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;

using test_server::output_of;

TEST_CASE("a known path with another method is 405 naming the allowed ones, an unknown path 404", "[server][interface]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    auto r = s.request("PUT", "/v1/version", admin, json::object());
    require_error(r, 405, "method_not_allowed_error");
    CHECK(r.headers.find("Allow")->second == "GET, HEAD");
    r = s.request("DELETE", "/v1/session/login", "");
    require_error(r, 405, "method_not_allowed_error");
    CHECK(r.headers.find("Allow")->second == "POST");
    r = s.request("PATCH", "/v1/users/500", admin, json::object());
    require_error(r, 405, "method_not_allowed_error");
    CHECK(r.headers.find("Allow")->second == "GET, PUT, DELETE, HEAD");
    require_error(s.request("GET", "/v1/no-such-thing", admin), 404, "not_found_error");
    require_error(s.request("DELETE", "/v1/no-such-thing", admin), 404, "not_found_error");
}

TEST_CASE("the version is one number: --version of both binaries, build_id and the .pc file", "[server][interface]") {
    const std::string v = TOKENAUTH_PROJECT_VERSION;
    CHECK(output_of(test_server::server_binary() + " --version") == "tokenauth-server " + v + "\n");
    CHECK(output_of(std::string(TOKENAUTH_CLI_BIN) + " --version") == "tokenauth-cli " + v + "\n");
    temp_dir dir;
    server_process s(dir.path + "/data");
    CHECK(s.request("GET", "/v1/version").body.at("build_id") == "tokenauth-" + v);
    CHECK(s.request("GET", "/v1/version").body.at("revision_id").get<std::string>().find("5.3.0") != std::string::npos);
}

TEST_CASE("a credential sent under another scheme is not read as one, not even in the log", "[server][interface]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const created_token t = create_token(s, admin, user_identity("svc"));
    // "Tokens " is seven bytes, like "Bearer ": the token after it must not be taken for a
    // bearer credential.
    const auto r = s.request_text("GET", "/v1/session/who-am-i", "", "", {{"Authorization", "Tokens " + t.bearer}});
    require_error(r, 401);
    CHECK(r.body.at("description") == "malformed credential: authorization scheme is not Bearer");
    const std::string log = s.log();
    const auto at = log.find("\"event\":\"auth_failed\"");
    REQUIRE(at != std::string::npos);
    const auto start = log.rfind('\n', at) + 1, end = log.find('\n', at);
    const std::string line = log.substr(start, end - start);
    INFO(line);
    CHECK(line.find("bad_scheme") != std::string::npos);
    CHECK(line.find("token_id") == std::string::npos);
}

TEST_CASE("POST /v1/identity/parse answers what parse_identity makes of a text, or 400 saying why", "[server][interface]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    const std::string admin = s.login();
    CHECK(s.request("POST", "/v1/identity/parse", "", json{{"text", "uid:7"}}).status == 401);
    // Each answer is the C++ grammar's, checked against the library itself.
    for (const char* text : {"uid:7", " auth_id:1001 ", "local:jane", "S-1-5-21-1-2-3-500", "AD\\jane", "name:a:b"}) {
        INFO(text);
        const auto r = s.request("POST", "/v1/identity/parse", admin, json{{"text", text}});
        REQUIRE(r.status == 200);
        CHECK(r.body == tokenauth::identity_to_json(tokenauth::parse_identity(text).value()));
    }
    CHECK(s.request("POST", "/v1/identity/parse", admin, json{{"text", "uid:7"}}).body.at("uid") == 7);
    for (const char* text : {"uid:abc", "foo:bar", "", "gid:4294967296"}) {
        INFO(text);
        const auto r = s.request("POST", "/v1/identity/parse", admin, json{{"text", text}});
        require_error(r, 400);
        CHECK(r.body.at("description").get<std::string>().find(tokenauth::parse_identity(text).detail()) != std::string::npos);
    }
    require_error(s.request("POST", "/v1/identity/parse", admin, json::object()), 400);
    require_error(s.request("POST", "/v1/identity/parse", admin, json{{"text", 7}}), 400);
    require_error(s.request("POST", "/v1/identity/parse", admin, json{{"text", std::string(20000, 'a')}}), 400);
}

TEST_CASE("HTTP methods are an enum: each routed method's token parses back, others are none", "[server][interface]") {
    using tokenauth::server::http_method;
    STATIC_REQUIRE(std::is_enum_v<http_method>);
    for (http_method m : tokenauth::server::routed_methods) {
        INFO(tokenauth::server::to_string(m));
        CHECK(tokenauth::server::parse_method(tokenauth::server::to_string(m)) == m);
    }
    for (const char* other : {"HEAD", "TRACE", "CONNECT", "get", "BREW", ""}) CHECK(!tokenauth::server::parse_method(other));
}

TEST_CASE("a server that cannot serve says why and exits 1: its port is taken", "[server][interface]") {
    temp_dir dir;
    server_process first(dir.path + "/first");
    const std::string cmd = "TOKENAUTH_ADMIN_PASSWORD=x-password-1 timeout 30 " + test_server::server_binary() +
                            " --listen 127.0.0.1:" + std::to_string(first.port()) + " --data-dir " + dir.path +
                            "/second 2>" + dir.path + "/second.err";
    const int status = std::system(cmd.c_str());
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    std::ifstream err(dir.path + "/second.err");
    const std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    CHECK(text.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) != std::string::npos);
}
