// A real nginx (Debian's nginx-light) guards an upstream with tokenauth's /v1/auth/verify
// through auth_request, with the snippet docs/edge.md shows (tests/server/nginx.conf.in).
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>

#include "api_helpers.hpp"
#include "raw_http.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::raw_request;
using test_server::temp_dir;
using namespace test_server::api;

#ifndef TOKENAUTH_NGINX_CONF_IN
#error "TOKENAUTH_NGINX_CONF_IN names tests/server/nginx.conf.in"
#endif

namespace {

constexpr const char* nginx_binary = "/usr/sbin/nginx";

bool skip_without_nginx() {
    if (::access(nginx_binary, X_OK) == 0 && (::geteuid() != 0 || ::getpwnam("nobody") != nullptr)) return false;
    std::printf("SKIPPED: nginx missing; run ./scripts/deps.sh --test\n");
    return true;
}


/// An upstream that answers every request with the headers and body size it received.
class echo_upstream {
public:
    echo_upstream() {
        auto echo = [this](const httplib::Request& req, httplib::Response& res) {
            ++hits;
            json headers = json::object();
            for (const auto& [k, v] : req.headers) headers[k] = v;
            res.set_content(json{{"path", req.path}, {"headers", headers}, {"body_bytes", req.body.size()}}.dump(),
                            "application/json");
        };
        server_.Get(".*", echo);
        server_.Post(".*", echo);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });  // bound and listening: connections queue
    }
    ~echo_upstream() {
        server_.stop();
        thread_.join();
    }
    int port() const { return port_; }
    std::atomic<int> hits{0};

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

/// nginx from the repository's config template, in a temp dir of its own (nobody's when the
/// tests run as root), on a free port; stopped on destruction.
class nginx_process {
public:
    nginx_process(int tokenauth_port, int upstream_port) : port_(test_server::free_port()) {
        const std::string& dir = dir_.path;
        std::ifstream in(TOKENAUTH_NGINX_CONF_IN);
        std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (const auto& [key, value] : {std::pair<std::string, std::string>{"@DIR@", dir},
                                         {"@PORT@", std::to_string(port_)},
                                         {"@TOKENAUTH_PORT@", std::to_string(tokenauth_port)},
                                         {"@UPSTREAM_PORT@", std::to_string(upstream_port)}})
            conf = std::regex_replace(conf, std::regex(key), value);
        std::ofstream(dir + "/nginx.conf") << conf;
        std::string as;
        if (::geteuid() == 0) {  // nginx runs unprivileged: as nobody, who is given the directory
            const passwd* pw = ::getpwnam("nobody");
            if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");
            as = "runuser -u nobody -- ";
        }
        const std::string cmd = as + nginx_binary + " -p " + dir + " -c " + dir + "/nginx.conf -e " + dir + "/error.log";
        if (std::system((cmd + " -t -q").c_str()) != 0) throw std::runtime_error("nginx -t failed: " + log());
        if (std::system(cmd.c_str()) != 0) throw std::runtime_error("nginx did not start: " + log());
        for (int i = 0; i < 500; ++i) {  // until it accepts
            try {
                raw_request("127.0.0.1", port_, "GET", "/health", {});
                return;
            } catch (const std::runtime_error&) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        throw std::runtime_error("nginx does not accept connections: " + log());
    }
    ~nginx_process() {
        std::ifstream pid_file(dir_.path + "/nginx.pid");
        pid_t pid = 0;
        if (pid_file >> pid && pid > 0) {
            ::kill(pid, SIGQUIT);
            for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    int port() const { return port_; }
    std::string log() const { return test_server::read_file(dir_.path + "/error.log"); }

private:
    temp_dir dir_;
    int port_;
};

std::string bearer(const std::string& token) { return "Authorization: Bearer " + token; }

}  // namespace

TEST_CASE("docs/edge.md shows the nginx snippet the test runs", "[nginx]") {
    const std::string conf = test_server::read_file(TOKENAUTH_NGINX_CONF_IN);
    const std::string start = "    # --- snippet start\n", end = "    # --- snippet end";
    const auto a = conf.find(start), b = conf.find(end);
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    std::string snippet;  // one level less indented, with the documented ports
    std::istringstream lines(conf.substr(a + start.size(), b - a - start.size()));
    for (std::string line; std::getline(lines, line);) snippet += (line.rfind("    ", 0) == 0 ? line.substr(4) : line) + "\n";
    snippet = std::regex_replace(snippet, std::regex("@TOKENAUTH_PORT@"), "8000");
    snippet = std::regex_replace(snippet, std::regex("@PORT@"), "80");
    while (!snippet.empty() && snippet.back() == '\n') snippet.pop_back();
    CHECK(test_server::read_file(TOKENAUTH_EDGE_DOC).find("```nginx\n" + snippet + "\n```") != std::string::npos);
}

TEST_CASE("nginx auth_request guards an upstream with tokenauth's verify endpoint", "[nginx]") {
    if (skip_without_nginx()) return;
    temp_dir dir;
    // nginx reaches the server from 127.0.0.1: trusted, so its X-Forwarded-For names the client.
    server_process s(dir.path + "/server", {"--trusted-proxy", "127.0.0.1", "--auth-failures-per-minute", "3"});
    echo_upstream upstream;
    nginx_process nginx(s.port(), upstream.port());
    const int port = nginx.port();

    const std::string admin = s.login();
    create_user(s, admin, "svc name/ü");
    grant(s, admin, "readers", {"PRIVILEGE_LOCAL_USER_READ"}, json{{"name", "svc name/ü"}});
    const auto t = create_token(s, admin, user_identity("svc name/ü"));
    const std::string svc_id = s.request("GET", "/v1/session/who-am-i", t.bearer).body.at("id");

    // A valid token reaches the upstream with the identity; a client's own identity header does not.
    auto r = raw_request("127.0.0.2", port, "GET", "/app/data?q=1", {bearer(t.bearer), "X-Tokenauth-Auth-Id: 500",
                                                                      "X-Tokenauth-Privileges: PRIVILEGE_ROLE_WRITE"});
    REQUIRE(r.status == 200);
    json seen = json::parse(r.body);
    CHECK(seen.at("path") == "/app/data");
    CHECK(seen.at("headers").at("X-Auth-Request-User") == "svc name/ü");  // as cpp-httplib decodes it
    CHECK(seen.at("headers").at("X-Tokenauth-Auth-Id") == svc_id);
    CHECK(seen.at("headers").at("X-Tokenauth-Token-Id") == t.id);
    CHECK(!seen.at("headers").contains("X-Tokenauth-Privileges"));
    CHECK(!seen.at("headers").contains("Authorization"));  // the bearer stays at the edge
    const int hits_after_valid = upstream.hits;

    // 401 from nginx, never the upstream: no token, a wrong secret, expired, disabled, deleted.
    std::string wrong = t.bearer;
    wrong[wrong.size() - 3] = wrong[wrong.size() - 3] == 'A' ? 'B' : 'A';
    const auto expired = create_token(s, admin, user_identity("admin"), "2000-01-01T00:00:00Z");
    r = raw_request("127.0.0.3", port, "GET", "/app/", {});
    CHECK(r.status == 401);
    CHECK(r.header("WWW-Authenticate") == "Bearer realm=\"tokenauth\"");
    for (const auto& bad : {wrong, expired.bearer}) {
        r = raw_request("127.0.0.4", port, "GET", "/app/", {bearer(bad)});
        CHECK(r.status == 401);
        CHECK(r.header("WWW-Authenticate") == "Bearer realm=\"tokenauth\", error=\"invalid_token\"");
    }
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", false}}).status == 200);
    CHECK(raw_request("127.0.0.5", port, "GET", "/app/", {bearer(t.bearer)}).status == 401);
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", true}}).status == 200);
    CHECK(raw_request("127.0.0.5", port, "GET", "/app/", {bearer(t.bearer)}).status == 200);
    const auto doomed = create_token(s, admin, user_identity("svc name/ü"));
    CHECK(raw_request("127.0.0.6", port, "GET", "/app/", {bearer(doomed.bearer)}).status == 200);
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + doomed.id, admin).status == 200);
    CHECK(raw_request("127.0.0.6", port, "GET", "/app/", {bearer(doomed.bearer)}).status == 401);
    CHECK(upstream.hits == hits_after_valid + 2);  // only the two valid requests above

    // A location that requires a privilege: 403 without it.
    r = raw_request("127.0.0.2", port, "GET", "/roles-admin/x", {bearer(t.bearer)});
    CHECK(r.status == 403);
    CHECK(raw_request("127.0.0.2", port, "GET", "/roles-admin/x", {bearer(admin)}).status == 200);

    // A 100 KiB body passes (the verify subrequest carries none).
    r = raw_request("127.0.0.2", port, "POST", "/app/upload", {bearer(t.bearer)}, std::string(100 * 1024, 'x'));
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body).at("body_bytes") == 100 * 1024);

    // The administrator's 127 privileges fit through the privileges location.
    r = raw_request("127.0.0.2", port, "GET", "/with-privileges/", {bearer(admin)});
    REQUIRE(r.status == 200);
    const std::string privileges = json::parse(r.body).at("headers").at("X-Tokenauth-Privileges");
    CHECK(std::count(privileges.begin(), privileges.end(), ',') == 126);

    // Failures count per real client: one client's bad tokens throttle it, not a neighbour
    // behind the same nginx.
    for (int i = 0; i < 3; ++i) CHECK(raw_request("127.0.0.9", port, "GET", "/app/", {bearer("access-v1:guess")}).status == 401);
    r = raw_request("127.0.0.9", port, "GET", "/app/", {bearer(t.bearer)});
    CHECK(r.status == 401);  // throttled: nginx passes 401 on, and the snippet the Retry-After
    CHECK(r.header("Retry-After") != "<none>");
    CHECK(raw_request("127.0.0.10", port, "GET", "/app/", {bearer(t.bearer)}).status == 200);
    INFO(nginx.log());
}
