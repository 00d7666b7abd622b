// Hostile clients (issue: no session resurrection, no unauthenticated denial of service).
// Each test is an attack that succeeded against an earlier server; all run the real binary.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "api_helpers.hpp"
#include "raw_client.hpp"

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

namespace {

using test_server::raw_connection;
using namespace std::chrono_literals;

std::string get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

/// GET /v1/version from another loopback address, as a bystander would; its status or 0.
int bystander_version(int port, const std::string& source_ip, std::chrono::milliseconds limit) {
    raw_connection c(port, false, source_ip);
    c.send(get("/v1/version", "Connection: close\r\n"));
    const auto statuses = raw_connection::statuses(c.receive(limit, "\r\n\r\n{"));
    return statuses.empty() ? 0 : statuses.front();
}

}  // namespace

TEST_CASE("a request head is capped in lines and bytes, and answered 431 at once", "[server][hostile][limits]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    SECTION("many short header lines") {
        raw_connection c(s.port(), false);
        std::string head = "GET /v1/version HTTP/1.1\r\nHost: t\r\n";
        for (int i = 0; i < 101; ++i) head += "X-Pad-" + std::to_string(i) + ": 0123456789\r\n";
        c.send(head);  // no final empty line: the server must not wait for one
        const std::string r = c.receive(10s, "}");
        INFO(r);
        REQUIRE(raw_connection::statuses(r) == std::vector<int>{431});
        CHECK(r.find("request_header_too_large_error") != std::string::npos);
        CHECK(r.find("Connection: close") != std::string::npos);
        c.receive(5s);
        CHECK(c.closed());
    }
    SECTION("a head over 16 KiB in lines under every other limit") {
        raw_connection c(s.port(), false);
        std::string head = "GET /v1/version HTTP/1.1\r\n";
        for (int i = 0; i < 50; ++i) head += "X-Pad: " + std::string(400, 'a') + "\r\n";
        c.send(head + "\r\n");
        const std::string r = c.receive(10s, "}");
        INFO(r.substr(0, 300));
        CHECK(raw_connection::statuses(r) == std::vector<int>{431});
    }
    SECTION("a flood of header lines is cut off, not buffered") {
        raw_connection c(s.port(), false);
        c.send("GET /v1/version HTTP/1.1\r\n");
        std::string chunk;
        for (int i = 0; i < 1000; ++i) chunk += "X-Flood: 0123456789abcdef0123456789abcdef012345\r\n";
        bool refused = false;
        for (int i = 0; i < 200 && !refused; ++i) refused = !c.send(chunk);  // up to 10 MB
        const std::string r = c.receive(10s, "}");
        CHECK(raw_connection::statuses(r) == std::vector<int>{431});
    }
    CHECK(bystander_version(s.port(), "127.0.0.1", 10s) == 200);
}

TEST_CASE("slow clients neither starve others nor hold a connection forever", "[server][hostile][slowloris]") {
    temp_dir dir;
    // The default --threads of the test server is 4: far fewer than the slow connections.
    server_process s(dir.path, {"--http", "--head-timeout", "3", "--request-timeout", "5"});
    std::vector<std::unique_ptr<raw_connection>> slow;
    for (int i = 0; i < 64; ++i) {
        slow.push_back(std::make_unique<raw_connection>(s.port(), false, "127.0.0.1"));
        slow.back()->send("GET /v1/version HTTP/1.1\r\n");
    }
    // One header line each per half second (the timeout must not restart with each one),
    // while bystanders at other addresses are served.
    std::vector<int> bystanders;
    for (int round = 0; round < 5; ++round) {
        for (auto& c : slow) c->send("X-Slow: " + std::to_string(round) + "\r\n");
        bystanders.push_back(bystander_version(s.port(), "127.0.0." + std::to_string(2 + round), 5s));
        std::this_thread::sleep_for(500ms);
    }
    CHECK(bystanders == std::vector<int>(5, 200));
    // Each trickler gets 408 once its head deadline (3 s from its first byte) has passed.
    std::size_t timed_out = 0;
    for (auto& c : slow) {
        const std::string r = c->receive(15s, "}");
        if (raw_connection::statuses(r) == std::vector<int>{408}) ++timed_out;
    }
    CHECK(timed_out == slow.size());

    // A body trickled a byte at a time is cut off at the request deadline (5 s).
    raw_connection body(s.port(), false, "127.0.0.9");
    body.send("POST /v1/session/login HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    const auto start = std::chrono::steady_clock::now();
    std::string r;
    while (!body.closed() && std::chrono::steady_clock::now() - start < 30s) {
        body.send("{");
        r = body.receive(1s);
    }
    INFO(r);
    CHECK(raw_connection::statuses(r) == std::vector<int>{408});
    CHECK(r.find("request_timeout_error") != std::string::npos);
}

TEST_CASE("a bad or oversized Content-Length is answered at once", "[server][hostile][limits]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    const std::vector<std::pair<std::string, int>> cases = {
        {"-1", 400}, {"100000000000000000000", 413}, {"70000", 413}, {"12abc", 400}, {"0x10", 400}, {"", 400}};
    for (const auto& [length, status] : cases) {
        raw_connection c(s.port(), false);
        c.send("POST /v1/session/login HTTP/1.1\r\nHost: t\r\nContent-Length: " + length + "\r\n\r\n");
        // No body follows: an answer after the 10 s read timeout would be too late.
        const std::string r = c.receive(5s, "}");
        INFO("Content-Length: " << length << "\n" << r);
        CHECK(raw_connection::statuses(r) == std::vector<int>{status});
    }
}

TEST_CASE("pipelined requests are all answered, in order, over HTTP and HTTPS", "[server][hostile][pipelining]") {
    temp_dir dir;
    for (const bool tls : {false, true}) {
        server_process s(dir.path, tls ? std::vector<std::string>{} : std::vector<std::string>{"--http"});
        for (const int count : {20, 300}) {
            raw_connection c(s.port(), tls);
            REQUIRE((!tls || c.handshake_ok()));
            // Alternating 200 and 404 shows the order; all in one write.
            std::string batch;
            std::vector<int> expected;
            for (int i = 0; i < count; ++i) {
                batch += get(i % 2 == 0 ? "/v1/version" : "/v1/no-such-" + std::to_string(i));
                expected.push_back(i % 2 == 0 ? 200 : 404);
            }
            REQUIRE(c.send(batch));
            const std::string r = c.receive(20s, "\"user_visible\"", static_cast<std::size_t>(count / 2));
            c.receive(1s);  // the last 200 follows the last 404
            INFO((tls ? "https " : "http ") << count);
            CHECK(raw_connection::statuses(r) == expected);
            CHECK(r.find("HTTP/1.1 431") == std::string::npos);  // (a request id may hold the digits 431)
            // The connection is still usable afterwards.
            REQUIRE(c.send(get("/v1/version")));
            CHECK(raw_connection::statuses(c.receive(5s, "HTTP/1.1", static_cast<std::size_t>(count + 1))).size() ==
                  static_cast<std::size_t>(count + 1));
        }
    }
}

TEST_CASE("framing follows RFC 9112: chunked works, smuggling shapes are refused", "[server][hostile][framing]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    const std::string login = R"({"username": "admin", "password": ")" + std::string(test_server::admin_password) + "\"}";
    SECTION("a chunked body (with an extension and a trailer), then a pipelined request") {
        raw_connection c(s.port(), false);
        std::string req = "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
        req += "a;ext=1\r\n" + login.substr(0, 10) + "\r\n";
        char size[16];
        std::snprintf(size, sizeof size, "%zx", login.size() - 10);
        req += std::string(size) + "\r\n" + login.substr(10) + "\r\n0\r\nX-Trailer: t\r\n\r\n";
        c.send(req + get("/v1/version"));
        const std::string r = c.receive(10s, "HTTP/1.1", 2);
        c.receive(1s);
        INFO(r);
        CHECK(raw_connection::statuses(c.receive(1s)) == std::vector<int>{200, 200});
        CHECK(r.find("bearer_token") != std::string::npos);
    }
    SECTION("Expect: 100-continue gets the interim answer, then the final one") {
        raw_connection c(s.port(), false);
        c.send("POST /v1/session/login HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " +
               std::to_string(login.size()) + "\r\n\r\n");
        CHECK(raw_connection::statuses(c.receive(5s, "\r\n\r\n")) == std::vector<int>{100});
        c.send(login);
        const std::string r = c.receive(10s, "}");
        CHECK(raw_connection::statuses(r) == std::vector<int>{100, 200});
    }
    const std::vector<std::string> smuggling = {
        // Both framings: which one ends the request is the smuggler's question.
        "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        // Conflicting lengths.
        "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
        "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nContent-Length: 4, 40\r\n\r\nabcd",
        // Whitespace before the colon, obs-fold, bare LF.
        "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nContent-Length : 4\r\n\r\nabcd",
        "GET /v1/version HTTP/1.1\r\nHost: t\r\nX-A: a\r\n folded\r\n\r\n",
        "GET /v1/version HTTP/1.1\nHost: t\n\n",
        // Malformed chunk sizes.
        "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdXX0\r\n\r\n",
    };
    for (const auto& attack : smuggling) {
        raw_connection c(s.port(), false);
        c.send(attack + get("/v1/version"));
        const std::string r = c.receive(5s, "}");
        c.receive(3s);
        INFO(attack << "\n---\n" << r);
        CHECK(raw_connection::statuses(r) == std::vector<int>{400});
        CHECK(c.closed());
    }
    raw_connection te(s.port(), false);
    te.send("POST /v1/session/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    CHECK(raw_connection::statuses(te.receive(5s, "}")) == std::vector<int>{501});
}

TEST_CASE("TLS offers AEAD suites only", "[server][hostile][tls]") {
    temp_dir dir;
    server_process s(dir.path);
    for (const char* cbc : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256",
                            "ECDHE-ECDSA-AES256-SHA384", "AES128-SHA", "AES256-GCM-SHA384"}) {
        raw_connection c(s.port(), true, "127.0.0.1", cbc);
        INFO(cbc);
        CHECK_FALSE(c.handshake_ok());
    }
    for (const char* aead : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                             "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
        raw_connection c(s.port(), true, "127.0.0.1", aead);
        INFO(aead);
        REQUIRE(c.handshake_ok());
        CHECK(c.cipher() == aead);
        c.send(get("/v1/version", "Connection: close\r\n"));
        CHECK(raw_connection::statuses(c.receive(5s, "}")) == std::vector<int>{200});
    }
    raw_connection tls13(s.port(), true);
    REQUIRE(tls13.handshake_ok());
}

namespace {

/// The JSON body of a raw response (after the head), or a discarded value.
json body_of(const std::string& raw) {
    const auto at = raw.find("\r\n\r\n");
    return json::parse(at == std::string::npos ? std::string() : raw.substr(at + 4), nullptr, false);
}

}  // namespace

TEST_CASE("bytes that are not UTF-8 in a path id get a JSON 404, not a 500", "[server][hostile][input]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    const std::string admin = s.login();
    std::string odd_cut = "a";  // then 70 two-byte characters: an echo cut at 64 bytes splits one
    for (int i = 0; i < 70; ++i) odd_cut += "%C3%A9";
    for (const std::string method : {"GET", "DELETE", "PUT", "PATCH"}) {
        for (const std::string& path : std::vector<std::string>
             {"/v1/users/%FF", "/v1/auth/access-tokens/%C0%AF", "/v1/groups/%FF", "/v1/auth/roles/%FF",
              "/v1/auth/roles/%FF/members", "/v1/groups/%FE/members/", "/v1/users/" + odd_cut,
              "/v1/auth/roles/" + odd_cut, "/v1/auth/access-tokens/" + odd_cut}) {
            raw_connection c(s.port(), false);
            c.send(method + " " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + admin +
                   "\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            const std::string r = c.receive(5s);
            const auto statuses = raw_connection::statuses(r);
            INFO(method << " " << path << "\n" << r);
            REQUIRE(statuses.size() == 1);
            CHECK((statuses[0] == 404 || statuses[0] == 400 || statuses[0] == 405));
            const json body = body_of(r);
            CHECK(body.is_object());
            if (statuses[0] != 405) CHECK(body.value("error_class", "") != "internal_error");
        }
    }
}

TEST_CASE("a user deleted while tokens are being created for it gives 404s, never 500s", "[server][hostile][input]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    std::map<int, int> seen;
    for (int round = 0; round < 6; ++round) {
        const std::string id = create_user(s, admin, "doomed" + std::to_string(round));
        std::vector<std::thread> creators;
        std::mutex mu;
        for (int t = 0; t < 10; ++t)
            creators.emplace_back([&] {
                for (int i = 0; i < 2; ++i) {
                    const int status = s.request("POST", "/v1/auth/access-tokens/", admin,
                                                 json{{"user", {{"auth_id", id}}}}).status;
                    std::lock_guard lock(mu);
                    ++seen[status];
                }
            });
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * round));
        const int deleted = s.request("DELETE", "/v1/users/" + id, admin).status;
        for (auto& t : creators) t.join();
        CHECK(deleted == 200);
    }
    for (const auto& [status, count] : seen) INFO(status << ": " << count);
    CHECK(seen.count(500) == 0);
    for (const auto& [status, count] : seen) CHECK((status == 200 || status == 404 || status == 409));
}

TEST_CASE("an unprivileged caller cannot tell which user ids exist", "[server][hostile][input]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    const std::string me = create_user(s, admin, "nosy", std::string("nosy-password"));
    const std::string session = s.login("nosy", "nosy-password");
    CHECK(s.request("GET", "/v1/users/" + me + "/groups/", session).status == 200);
    for (const std::string other : {"500", "501", "999999", "1000", "abc", "%FF"}) {
        const auto r = s.request("GET", "/v1/users/" + other + "/groups/", session);
        INFO(other << ": " << r.raw);
        CHECK(r.status == 403);
    }
}

TEST_CASE("duplicate keys in a JSON body are refused with 400", "[server][hostile][input]") {
    temp_dir dir;
    server_process s(dir.path);
    const std::string admin = s.login();
    create_user(s, admin, "bi");
    const std::vector<std::pair<std::string, std::string>> bodies = {
        {"/v1/auth/access-tokens/", R"({"user":{"name":"bi"},"user":{"name":"admin"}})"},
        {"/v1/auth/access-tokens/", R"({"user":{"name":"bi","name":"admin"}})"},
        {"/v1/auth/access-tokens/", R"({"user":{"name":"bi"},"expiration_time":null,"expiration_time":"2099-01-01T00:00:00Z"})"},
        {"/v1/session/login", R"({"username":"admin","username":"bi","password":"x"})"},
        {"/v1/users/", R"({"name":"x","name":"y","primary_group":"0","uid":"","home_directory":null,"password":null})"},
        {"/v1/auth/roles/", R"({"name":"r","description":"d","privileges":[],"privileges":["PRIVILEGE_ROLE_WRITE"]})"},
    };
    for (const auto& [path, text] : bodies) {
        const auto r = s.request_text("POST", path, admin, text);
        INFO(path << " " << text << "\n" << r.raw);
        require_error(r, 400, "bad_request_error");
        CHECK(r.body.at("description").get<std::string>().find("twice") != std::string::npos);
    }
    // The same key in different objects is fine.
    const auto ok = s.request_text("POST", "/v1/auth/access-tokens/", admin, R"({"user":{"name":"bi"},"name":"x"})");
    CHECK(ok.status == 200);
    const auto tokens = s.request("GET", "/v1/auth/access-tokens/?user=admin", admin);
    CHECK(tokens.body.at("entries").empty());
}

namespace {

struct raw_answer {
    int status = 0;
    int retry_after = 0;
    json body;
};

raw_answer parse_answer(const std::string& r) {
    raw_answer a;
    const auto statuses = raw_connection::statuses(r);
    if (!statuses.empty()) a.status = statuses.front();
    const auto at = r.find("Retry-After: ");
    if (at != std::string::npos) a.retry_after = std::stoi(r.substr(at + 13));
    a.body = body_of(r);
    return a;
}

/// POST /v1/session/login from a source address, optionally through a proxy header.
raw_answer login_from(int port, const std::string& source_ip, const std::string& user, const std::string& password,
                      const std::string& forwarded_for = "") {
    raw_connection c(port, false, source_ip);
    const std::string body = json{{"username", user}, {"password", password}}.dump();
    std::string head = "POST /v1/session/login HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n";
    if (!forwarded_for.empty()) head += "X-Forwarded-For: " + forwarded_for + "\r\n";
    c.send(head + "\r\n" + body);
    return parse_answer(c.receive(30s));
}

const std::string admin_pw = test_server::admin_password;

}  // namespace

TEST_CASE("failed logins are throttled per address and user, never account-wide", "[server][hostile][throttle]") {
    temp_dir dir;
    server_process s(dir.path, {"--http"});
    for (int i = 0; i < 5; ++i) REQUIRE(login_from(s.port(), "127.0.0.1", "admin", "wrong").status == 401);
    // The sixth attempt from there is refused before any password work, even a right one.
    auto a = login_from(s.port(), "127.0.0.1", "admin", "wrong");
    CHECK(a.status == 429);
    CHECK(a.retry_after == 1);
    CHECK(a.body.value("error_class", "") == "too_many_requests_error");
    CHECK(login_from(s.port(), "127.0.0.1", "admin", admin_pw).status == 429);
    // Another address logs in as the same user; the same address as another user is not blocked.
    CHECK(login_from(s.port(), "127.0.0.2", "admin", admin_pw).status == 200);
    CHECK(login_from(s.port(), "127.0.0.1", "guest", "wrong").status == 401);
    // After the delay (as Retry-After said) one more failure blocks again, for twice as long.
    std::this_thread::sleep_for(std::chrono::seconds(a.retry_after) + 100ms);
    CHECK(login_from(s.port(), "127.0.0.1", "admin", "wrong").status == 401);
    a = login_from(s.port(), "127.0.0.1", "admin", "wrong");
    CHECK(a.status == 429);
    CHECK(a.retry_after == 2);
    // A success resets the pair.
    std::this_thread::sleep_for(std::chrono::seconds(a.retry_after) + 100ms);
    CHECK(login_from(s.port(), "127.0.0.1", "admin", admin_pw).status == 200);
    CHECK(login_from(s.port(), "127.0.0.1", "admin", "wrong").status == 401);

    // Spraying many user names from one address: 50 failures, then 429 for every name.
    for (int i = 0; i < 50; ++i)
        REQUIRE(login_from(s.port(), "127.0.0.3", "nobody" + std::to_string(i % 25), "wrong").status == 401);
    CHECK(login_from(s.port(), "127.0.0.3", "someone-new", "wrong").status == 429);
    CHECK(login_from(s.port(), "127.0.0.3", "admin", admin_pw).status == 429);
    CHECK(login_from(s.port(), "127.0.0.4", "admin", admin_pw).status == 200);
}

TEST_CASE("behind a trusted proxy the client is the forwarded address", "[server][hostile][throttle]") {
    temp_dir dir;
    server_process s(dir.path, {"--http", "--trusted-proxy", "127.0.0.1"});
    // Through the proxy: each forwarded client is throttled on its own.
    // (The refusals come right after the failures: a block is refused before any password
    // work, so nothing slow runs while it lasts, however loaded the machine.)
    for (int i = 0; i < 5; ++i) REQUIRE(login_from(s.port(), "127.0.0.1", "admin", "wrong", "198.51.100.7").status == 401);
    CHECK(login_from(s.port(), "127.0.0.1", "admin", admin_pw, "198.51.100.7").status == 429);
    // A client cannot pick its address by sending the header itself: the proxy appends the
    // peer it saw, and only the rightmost untrusted hop counts.
    CHECK(login_from(s.port(), "127.0.0.1", "admin", admin_pw, "198.51.100.9, 198.51.100.7").status == 429);
    CHECK(login_from(s.port(), "127.0.0.1", "admin", admin_pw, "198.51.100.8").status == 200);
    // From a peer that is not a trusted proxy, the header is ignored.
    for (int i = 0; i < 5; ++i) REQUIRE(login_from(s.port(), "127.0.0.5", "admin", "wrong", "198.51.100.10").status == 401);
    CHECK(login_from(s.port(), "127.0.0.5", "admin", admin_pw, "198.51.100.11").status == 429);
}

TEST_CASE("password hashing is bounded: a login flood gets 503 and others are still served",
          "[server][hostile][throttle]") {
    temp_dir dir;
    server_process s(dir.path, {"--http", "--threads", "32", "--max-password-checks", "1"});
    std::vector<raw_answer> answers(40);
    std::vector<std::thread> flood;
    for (int i = 0; i < 40; ++i)
        flood.emplace_back([&, i] {
            answers[static_cast<std::size_t>(i)] =
                login_from(s.port(), "127.0.1." + std::to_string(i + 1), "admin", "wrong");
        });
    std::this_thread::sleep_for(200ms);
    const int probe = bystander_version(s.port(), "127.0.2.1", 5s);
    for (auto& t : flood) t.join();
    CHECK(probe == 200);
    std::size_t busy = 0;
    for (const auto& a : answers) {
        CHECK((a.status == 401 || a.status == 503));
        if (a.status == 503) {
            ++busy;
            CHECK(a.retry_after >= 1);
            CHECK(a.body.value("error_class", "") == "server_busy_error");
        }
    }
    CHECK(busy > 0);
}

TEST_CASE("failed bearer credentials are throttled per address, and the flag turns it off", "[server][hostile][throttle]") {
    temp_dir dir;
    const std::string bad = "Bearer access-v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (const bool limited : {true, false}) {
        server_process s(dir.path, limited ? std::vector<std::string>{"--http"}
                                           : std::vector<std::string>{"--http", "--auth-failures-per-minute", "0"});
        raw_connection c(s.port(), false, "127.0.0.6");
        std::string batch;
        for (int i = 0; i < 110; ++i) batch += get("/v1/session/who-am-i", "Authorization: " + bad + "\r\n");
        c.send(batch);
        const auto statuses = raw_connection::statuses(c.receive(20s, "user_visible", 110));
        REQUIRE(statuses.size() == 110);
        const auto throttled = static_cast<std::size_t>(std::count(statuses.begin(), statuses.end(), 429));
        INFO((limited ? "default" : "--auth-failures-per-minute 0"));
        CHECK(std::count(statuses.begin(), statuses.end(), 401) == (limited ? 100 : 110));
        CHECK(throttled == (limited ? 10u : 0u));
        // A well-behaved client elsewhere is not affected.
        const std::string admin = s.login();
        CHECK(s.request("GET", "/v1/session/who-am-i", admin).status == 200);
    }
}

TEST_CASE("a flood of failures adds a few kilobytes of log, with a count per client", "[server][hostile][log]") {
    temp_dir dir;
    server_process s(dir.path, {"--http", "--auth-failures-per-minute", "0"});
    const std::size_t before = s.log().size();
    raw_connection c(s.port(), false, "127.0.0.7");
    const std::string bad = "Bearer access-v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (int round = 0; round < 10; ++round) {
        std::string batch;
        for (int i = 0; i < 200; ++i) batch += get("/v1/session/who-am-i", "Authorization: " + bad + "\r\n");
        c.send(batch);
        REQUIRE(raw_connection::statuses(c.receive(20s, "user_visible", 200 * (round + 1))).size() ==
                static_cast<std::size_t>(200 * (round + 1)));
    }
    const std::size_t during = s.log().size() - before;
    CHECK(during < 4096);
    s.stop();  // flushes the summary of the unfinished interval
    const std::string log = s.log();
    const auto at = log.find("\"event\":\"auth_failed_repeated\"");
    REQUIRE(at != std::string::npos);
    const auto line_start = log.rfind('\n', at) + 1;
    const json summary = json::parse(log.substr(line_start, log.find('\n', at) - line_start));
    CHECK(summary.at("remote_addr") == "127.0.0.7");
    CHECK(summary.at("count").get<int>() + summary.at("logged_in_full").get<int>() == 2000);
    INFO(summary.dump());
    REQUIRE(summary.at("reasons").size() == 1);  // one reason, whichever the made-up token hits
    CHECK(summary.at("reasons").begin().value().get<int>() == summary.at("count").get<int>());
    CHECK(s.log().size() - before < 8192);
}

TEST_CASE("a method no route has gets 405 with Allow (404 where the path has no routes), with its own request id",
          "[server][hostile][input]") {
    temp_dir dir;
    // One worker: every request below runs on the same thread, after one with a known id.
    server_process s(dir.path, {"--http", "--threads", "1"});
    raw_connection c(s.port(), false);
    const auto ask = [&](const std::string& request) {
        const std::size_t before = raw_connection::occurrences(c.receive(0ms), "\"user_visible\"");
        REQUIRE(c.send(request));
        const std::string all = c.receive(5s, "\"user_visible\"", before + 1);
        return all.substr(all.rfind("HTTP/1.1 "));
    };
    REQUIRE(c.send("GET /v1/nowhere HTTP/1.1\r\nHost: t\r\nX-Request-Id: the-first-request\r\n\r\n"));
    CHECK(c.receive(5s, "\"user_visible\"").find("the-first-request") != std::string::npos);
    for (const char* method : {"FOO", "TRACE", "CONNECT", "PROPFIND"}) {
        INFO(method);
        std::string r = ask(std::string(method) + " /v1/auth/access-tokens/ HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 405 ", 0) == 0);
        CHECK(r.find("\r\nAllow: POST, GET, HEAD\r\n") != std::string::npos);
        CHECK(r.find("method_not_allowed_error") != std::string::npos);
        CHECK(r.find("X-Request-Id: ") != std::string::npos);
        CHECK(r.find("the-first-request") == std::string::npos);
        r = ask(std::string(method) + " /v1/no-such-thing?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 404 ", 0) == 0);
    }
}
