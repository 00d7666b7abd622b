// Validation for other services: /v1/auth/verify (edge proxies), /v1/auth/introspect
// (RFC 7662) and /v1/auth/tokenreviews (Kubernetes webhook token authentication).
#include <catch2/catch.hpp>

#include "api_helpers.hpp"
#include "raw_http.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;

namespace {

std::string header(const test_server::response& r, const char* name) {
    const auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string("<none>") : it->second;
}

/// A verify request as a proxy sends it: the original method and path, the client's bearer.
test_server::response verify(const server_process& s, const std::string& bearer, const std::string& path = "/v1/auth/verify",
                             const std::string& method = "GET", const httplib::Headers& extra = {}) {
    return s.request_text(method, path, bearer, "", extra);
}

/// RFC 7662's request: a form body, the reviewer's bearer.
test_server::response introspect(const server_process& s, const std::string& reviewer, const std::string& form) {
    auto c = s.client();
    httplib::Headers headers;
    if (!reviewer.empty()) headers.emplace("Authorization", "Bearer " + reviewer);
    auto r = c->Post("/v1/auth/introspect", headers, form, "application/x-www-form-urlencoded");
    REQUIRE(r);
    test_server::response out;
    out.status = r->status;
    out.raw = r->body;
    out.headers = r->headers;
    if (!r->body.empty()) out.body = json::parse(r->body);
    return out;
}

/// A bearer token as a form value: base64's '+', '/' and '=' percent-encoded.
json token_review(const std::string& token, const char* version = "authentication.k8s.io/v1",
                  std::optional<std::vector<std::string>> audiences = std::nullopt) {
    json spec = {{"token", token}};
    if (audiences) spec["audiences"] = *audiences;
    return {{"apiVersion", version}, {"kind", "TokenReview"}, {"spec", spec}};
}

}  // namespace

TEST_CASE("verify: a good bearer gets 200 and identity headers, a bad one the RFC 6750 challenge", "[edge]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "svc name/ü");
    grant(s, admin, "readers", {"PRIVILEGE_LOCAL_USER_READ"}, json{{"name", "svc name/ü"}});
    const auto t = create_token(s, admin, user_identity("svc name/ü"));

    auto r = verify(s, t.bearer);
    CHECK(r.status == 200);
    CHECK(r.raw.empty());
    CHECK(header(r, "Cache-Control") == "no-store");
    CHECK(header(r, "X-Auth-Request-User") == "svc name/ü");  // as cpp-httplib's client decodes it
    CHECK(header(r, "X-Tokenauth-Token-Id") == t.id);
    const std::string auth_id = header(r, "X-Tokenauth-Auth-Id");
    CHECK(auth_id == s.request("GET", "/v1/session/who-am-i", t.bearer).body.at("id"));
    CHECK(header(r, "X-Tokenauth-Privileges") == "<none>");  // only when asked
    // Any method, any path below it: proxies forward the original request's.
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE"})
        CHECK(verify(s, t.bearer, "/v1/auth/verify/some/upstream/path?x=1", method).status == 200);
    r = verify(s, t.bearer, "/v1/auth/verify?privileges=1");
    CHECK(header(r, "X-Tokenauth-Privileges") == "PRIVILEGE_LOCAL_USER_READ");
    // A session works too, without a token id.
    r = verify(s, admin);
    CHECK(r.status == 200);
    CHECK(header(r, "X-Auth-Request-User") == "admin");
    CHECK(header(r, "X-Tokenauth-Token-Id") == "<none>");

    // No credentials: the realm only. A bad one: invalid_token.
    r = verify(s, "");
    CHECK(r.status == 401);
    CHECK(header(r, "WWW-Authenticate") == "Bearer realm=\"tokenauth\"");
    std::string wrong = t.bearer;
    wrong[wrong.size() - 3] = wrong[wrong.size() - 3] == 'A' ? 'B' : 'A';
    for (const std::string& bad : {wrong, std::string("access-v1:nonsense"), std::string("x")}) {
        r = verify(s, bad);
        CHECK(r.status == 401);
        CHECK(header(r, "WWW-Authenticate") == "Bearer realm=\"tokenauth\", error=\"invalid_token\"");
        CHECK(header(r, "X-Auth-Request-User") == "<none>");
    }
    // Expired, disabled, deleted.
    const auto expired = create_token(s, admin, user_identity("admin"), "2000-01-01T00:00:00Z");
    CHECK(verify(s, expired.bearer).status == 401);
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", false}}).status == 200);
    CHECK(verify(s, t.bearer).status == 401);
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", true}}).status == 200);
    CHECK(verify(s, t.bearer).status == 200);
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + t.id, admin).status == 200);
    r = verify(s, t.bearer);
    CHECK(r.status == 401);
    CHECK(header(r, "WWW-Authenticate") == "Bearer realm=\"tokenauth\", error=\"invalid_token\"");
}

TEST_CASE("verify: the user name header is percent-encoded on the wire", "[edge]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    const std::string admin = s.login();
    create_user(s, admin, "svc name/ü");
    const auto t = create_token(s, admin, user_identity("svc name/ü"));
    const auto r = test_server::raw_request("127.0.0.1", s.port(), "HEAD", "/v1/auth/verify", {"Authorization: Bearer " + t.bearer});
    CHECK(r.status == 200);
    CHECK(r.header("X-Auth-Request-User") == "svc%20name%2F%C3%BC");
}

TEST_CASE("verify: a required privilege the bearer lacks is 403 insufficient_scope, scopes honoured", "[edge]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    grant(s, admin, "readers", {"PRIVILEGE_LOCAL_USER_READ", "PRIVILEGE_ROLE_READ"}, json{{"name", "svc"}});
    const auto t = create_token(s, admin, user_identity("svc"));
    CHECK(verify(s, t.bearer, "/v1/auth/verify?privilege=PRIVILEGE_ROLE_READ").status == 200);
    auto r = verify(s, t.bearer, "/v1/auth/verify?privilege=PRIVILEGE_ROLE_WRITE");
    CHECK(r.status == 403);
    CHECK(header(r, "WWW-Authenticate") == "Bearer realm=\"tokenauth\", error=\"insufficient_scope\"");
    CHECK(header(r, "X-Auth-Request-User") == "<none>");
    // The same asked by a header the proxy sets.
    r = verify(s, t.bearer, "/v1/auth/verify", "GET", {{"X-Tokenauth-Required-Privilege", "PRIVILEGE_ROLE_WRITE"}});
    CHECK(r.status == 403);
    CHECK(verify(s, t.bearer, "/v1/auth/verify", "GET", {{"X-Tokenauth-Required-Privilege", "PRIVILEGE_ROLE_READ"}}).status == 200);
    // A token scoped below its user's privileges: the scope decides.
    const auto scoped = s.request("POST", "/v1/auth/access-tokens/", admin,
                                  json{{"user", {{"name", "admin"}}}, {"privileges", {"PRIVILEGE_LOCAL_USER_READ"}}});
    REQUIRE(scoped.status == 200);
    const std::string bearer = scoped.body.at("bearer_token");
    CHECK(verify(s, bearer, "/v1/auth/verify?privilege=PRIVILEGE_LOCAL_USER_READ").status == 200);
    CHECK(verify(s, bearer, "/v1/auth/verify?privilege=PRIVILEGE_ROLE_READ").status == 403);
    CHECK(header(verify(s, bearer, "/v1/auth/verify?privileges=1"), "X-Tokenauth-Privileges") == "PRIVILEGE_LOCAL_USER_READ");
    // A privilege that does not exist is the proxy's mistake: 400, never 200.
    require_error(verify(s, admin, "/v1/auth/verify?privilege=PRIVILEGE_NOPE"), 400, "bad_request_error");
}

TEST_CASE("verify: a throttled client gets 401 with Retry-After, which nginx passes on", "[edge]") {
    temp_dir dir;
    server_process s(dir.path, {"--auth-failures-per-minute", "3"});
    const std::string admin = s.login();
    for (int i = 0; i < 3; ++i) CHECK(verify(s, "access-v1:nonsense").status == 401);
    const auto r = verify(s, admin);  // a good credential, from a throttled address
    CHECK(r.status == 401);
    CHECK(header(r, "Retry-After") != "<none>");
    CHECK(header(r, "WWW-Authenticate") == "Bearer realm=\"tokenauth\", error=\"invalid_token\"");
}

TEST_CASE("introspect: RFC 7662 answers, exactly {\"active\":false} for anything not valid", "[edge]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    grant(s, admin, "readers", {"PRIVILEGE_LOCAL_USER_READ", "PRIVILEGE_ROLE_READ"}, json{{"name", "svc"}});
    const auto t = create_token(s, admin, user_identity("svc"), "2099-01-01T00:00:00Z");
    const std::string reviewer = user_with(s, admin, "reviewer", {"PRIVILEGE_ACCESS_TOKENS_READ"});

    auto r = introspect(s, reviewer, "token=" + form_encoded(t.bearer) + "&token_type_hint=access_token");
    REQUIRE(r.status == 200);
    CHECK(r.body.at("active") == true);
    CHECK(r.body.at("sub") == s.request("GET", "/v1/session/who-am-i", t.bearer).body.at("id"));
    CHECK(r.body.at("username") == "svc");
    CHECK(r.body.at("token_type") == "Bearer");
    CHECK(r.body.at("exp") == 4070908800);  // 2099-01-01T00:00:00Z
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(r.body.at("iat").get<std::int64_t>() <= now);
    CHECK(r.body.at("iat").get<std::int64_t>() > now - 600);
    CHECK(r.body.at("scope") == "PRIVILEGE_LOCAL_USER_READ PRIVILEGE_ROLE_READ");
    // A token that never expires has no exp.
    const auto forever = create_token(s, admin, user_identity("admin"));
    r = introspect(s, reviewer, "token_type_hint=x&token=" + form_encoded(forever.bearer));
    CHECK(r.body.at("active") == true);
    CHECK(!r.body.contains("exp"));

    // Not valid, for whatever reason: exactly {"active":false}.
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", false}}).status == 200);
    for (const std::string& form : {"token=" + form_encoded(t.bearer), std::string("token=access-v1:nonsense"), std::string("token="),
                                    std::string("other=1")}) {
        r = introspect(s, reviewer, form);
        CHECK(r.status == 200);
        CHECK(r.raw == "{\"active\":false}");
    }
    // The caller must hold PRIVILEGE_ACCESS_TOKENS_READ; else 401.
    const std::string nobody = user_with(s, admin, "nobody", {"PRIVILEGE_LOCAL_USER_READ"});
    CHECK(introspect(s, nobody, "token=" + form_encoded(forever.bearer)).status == 401);
    CHECK(introspect(s, "", "token=" + form_encoded(forever.bearer)).status == 401);
    CHECK(introspect(s, "access-v1:nonsense", "token=" + form_encoded(forever.bearer)).status == 401);
    // A form body only.
    CHECK(s.request("POST", "/v1/auth/introspect", reviewer, json{{"token", forever.bearer}}).status == 415);
    require_error(introspect(s, reviewer, "token=%zz"), 400, "bad_request_error");
    require_error(introspect(s, reviewer, "token=a&token=b"), 400, "bad_request_error");
}

TEST_CASE("introspect: inactive answers count against the caller in the failure throttle", "[edge]") {
    temp_dir dir;
    server_process s(dir.path, {"--auth-failures-per-minute", "5"});
    const std::string admin = s.login();
    for (int i = 0; i < 5; ++i) CHECK(introspect(s, admin, "token=access-v1:guess" + std::to_string(i)).raw == "{\"active\":false}");
    const auto r = introspect(s, admin, "token=access-v1:guess");
    CHECK(r.status == 429);
    CHECK(r.headers.count("Retry-After") == 1);
}

TEST_CASE("tokenreviews: Kubernetes TokenReview v1 and v1beta1 with prefixed names", "[edge]") {
    temp_dir dir;
    server_process s(dir.path, {"--k8s-audience", "https://kubernetes.default.svc"});
    const std::string admin = s.login();
    const std::string deployer = create_user(s, admin, "deployer");
    // No tokenauth name holds ':', so none is system:masters even without the prefix.
    require_error(s.request("POST", "/v1/groups/", admin, json{{"name", "system:masters"}, {"gid", ""}}), 400,
                  "bad_request_error");
    const auto group = s.request("POST", "/v1/groups/", admin, json{{"name", "masters"}, {"gid", ""}});
    REQUIRE(group.status == 200);
    REQUIRE(s.request("POST", "/v1/groups/" + group.body.at("id").get<std::string>() + "/members/", admin,
                      json{{"member_id", deployer}})
                .status == 200);
    const auto t = create_token(s, admin, user_identity("deployer"));
    const std::string reviewer = user_with(s, admin, "apiserver", {"PRIVILEGE_ACCESS_TOKENS_READ"});

    for (const char* version : {"authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"}) {
        const auto r = s.request("POST", "/v1/auth/tokenreviews", reviewer, token_review(t.bearer, version));
        REQUIRE(r.status == 200);
        CHECK(r.body.at("apiVersion") == version);
        CHECK(r.body.at("kind") == "TokenReview");
        const json& st = r.body.at("status");
        CHECK(st.at("authenticated") == true);
        CHECK(st.at("user").at("username") == "tokenauth:deployer");
        CHECK(st.at("user").at("uid") == s.request("GET", "/v1/session/who-am-i", t.bearer).body.at("id"));
        // Every group arrives prefixed: no tokenauth group becomes a Kubernetes one.
        CHECK(st.at("user").at("groups") == json::array({"tokenauth:Users", "tokenauth:masters"}));
        CHECK(!st.contains("audiences"));
    }
    // Audiences: the configured one is echoed; any other set is not authenticated.
    auto r = s.request("POST", "/v1/auth/tokenreviews", reviewer,
                       token_review(t.bearer, "authentication.k8s.io/v1", std::vector<std::string>{"other", "https://kubernetes.default.svc"}));
    CHECK(r.body.at("status").at("authenticated") == true);
    CHECK(r.body.at("status").at("audiences") == json::array({"https://kubernetes.default.svc"}));
    r = s.request("POST", "/v1/auth/tokenreviews", reviewer,
                  token_review(t.bearer, "authentication.k8s.io/v1", std::vector<std::string>{"vault"}));
    CHECK(r.body.at("status").at("authenticated") == false);
    CHECK(!r.body.at("status").contains("user"));
    // Not valid: 200, authenticated false, a generic error.
    r = s.request("POST", "/v1/auth/tokenreviews", reviewer, token_review("access-v1:nonsense"));
    CHECK(r.status == 200);
    CHECK(r.body.at("status") == json{{"authenticated", false}, {"error", "invalid token"}});
    // The caller as for introspection; a body that is no TokenReview is 400.
    CHECK(s.request("POST", "/v1/auth/tokenreviews", t.bearer, token_review(t.bearer)).status == 401);
    require_error(s.request("POST", "/v1/auth/tokenreviews", reviewer, json{{"apiVersion", "v1"}, {"kind", "Pod"}}), 400,
                  "bad_request_error");
}

TEST_CASE("tokenreviews: --k8s-prefix sets the prefix, and one that starts with system: is refused", "[edge]") {
    temp_dir dir;
    server_process s(dir.path, {"--k8s-prefix", "corp-"});
    const std::string admin = s.login();
    const auto group = s.request("POST", "/v1/groups/", admin, json{{"name", "ops-team"}, {"gid", ""}});
    REQUIRE(group.status == 200);
    REQUIRE(s.request("POST", "/v1/groups/" + group.body.at("id").get<std::string>() + "/members/", admin,
                      json{{"member_id", create_user(s, admin, "ops")}})
                .status == 200);
    const auto r = s.request("POST", "/v1/auth/tokenreviews", admin, token_review(create_token(s, admin, user_identity("ops")).bearer));
    CHECK(r.body.at("status").at("authenticated") == true);
    CHECK(r.body.at("status").at("user").at("username") == "corp-ops");
    CHECK(r.body.at("status").at("user").at("groups") == json::array({"corp-Users", "corp-ops-team"}));
    CHECK_THROWS(server_process(dir.path + "/other", {"--k8s-prefix", "system:x:"}));
}
