// Request helpers shared by the server integration tests: the JSON error shape, and the
// users, roles and tokens most tests set up first.
#pragma once

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "server_process.hpp"

namespace test_server::api {

using nlohmann::json;

inline void require_error(const test_server::response& r, int status, const std::string& error_class = "") {
    INFO(r.raw);
    REQUIRE(r.status == status);
    REQUIRE(r.body.is_object());
    CHECK(r.body.at("error_class").is_string());
    CHECK(r.body.at("description").is_string());
    CHECK(r.body.at("stack").is_array());
    CHECK(r.body.at("module").is_string());
    if (!error_class.empty()) CHECK(r.body.at("error_class") == error_class);
}

/// A token as a form field's value (its base64 '+', '/' and '=' percent-encoded).
inline std::string form_encoded(const std::string& token) {
    std::string out;
    for (char c : token) out += c == '+' ? std::string("%2B") : c == '/' ? std::string("%2F") : c == '=' ? std::string("%3D") : std::string(1, c);
    return out;
}

inline json user_identity(const std::string& name) { return {{"name", name}}; }

/// Creates a local user and returns its id.
inline std::string create_user(const server_process& s, const std::string& admin, const std::string& name,
                        const std::optional<std::string>& password = std::nullopt) {
    const auto r = s.request("POST", "/v1/users/", admin,
                             json{{"name", name},
                                  {"primary_group", "0"},
                                  {"uid", ""},
                                  {"home_directory", nullptr},
                                  {"password", password ? json(*password) : json(nullptr)}});
    INFO(r.raw);
    REQUIRE(r.status == 200);
    return r.body.at("id").get<std::string>();
}

/// Creates a role with privileges and assigns it to a trustee.
inline void grant(const server_process& s, const std::string& admin, const std::string& role,
           const std::vector<std::string>& privileges, const json& trustee) {
    auto r = s.request("POST", "/v1/auth/roles/", admin,
                       json{{"name", role}, {"description", "test role"}, {"privileges", privileges}});
    INFO(r.raw);
    REQUIRE(r.status == 200);
    r = s.request("POST", "/v1/auth/roles/" + role + "/members", admin, trustee);
    INFO(r.raw);
    REQUIRE(r.status == 200);
}

struct created_token {
    std::string id;
    std::string bearer;
};

inline created_token create_token(const server_process& s, const std::string& admin, const json& user,
                           const std::optional<std::string>& expiration = std::nullopt) {
    json body = {{"user", user}};
    if (expiration) body["expiration_time"] = *expiration;
    const auto r = s.request("POST", "/v1/auth/access-tokens/", admin, body);
    INFO(r.raw);
    REQUIRE(r.status == 200);
    REQUIRE(r.body.size() == 2);
    return {r.body.at("id").get<std::string>(), r.body.at("bearer_token").get<std::string>()};
}

/// A user with a password holding one role of the given privileges; returns a session.
inline std::string user_with(const server_process& s, const std::string& admin, const std::string& name,
                             const std::vector<std::string>& privileges) {
    create_user(s, admin, name, name + "-password-1");
    grant(s, admin, name + "-role", privileges, json{{"name", name}});
    return s.login(name, name + "-password-1");
}

/// A 403 from the containment rule, naming what is missing.
inline void require_escalation(const test_server::response& r) {
    require_error(r, 403, "privilege_escalation_error");
    CHECK(r.body.at("description").get<std::string>().find("missing: PRIVILEGE_") != std::string::npos);
}

}  // namespace test_server::api
