// Webhooks: a real receiver on loopback (cpp-httplib), the real server delivering to it. Every
// delivery is checked as a receiver would: the Standard Webhooks signature over
// "id.timestamp.body" with the shared secret, a timestamp within 5 minutes, and no bearer
// secret in the body.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <tokenauth/time.hpp>

#include "api_helpers.hpp"
#include "raw_http.hpp"
#include "webhook_receiver.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;
using namespace std::chrono_literals;

namespace {

using namespace test_server::webhooks;

std::vector<std::string> types(const std::vector<delivery>& ds) {
    std::vector<std::string> out;
    for (const auto& d : ds) out.push_back(json::parse(d.body).at("type"));
    return out;
}

std::string outbox_states(const std::string& db_path) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT group_concat(state, ',') FROM (SELECT state FROM webhook_outbox ORDER BY id)",
                               -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/// Polls (every 100 ms, at most 20 s) until the outbox holds exactly n rows, all delivered. A
/// delivered row is never sent again, so what the receiver has then is all it gets.
bool all_delivered(const std::string& db_path, std::size_t n) {
    std::string want;
    for (std::size_t i = 0; i < n; ++i) want += i ? ",delivered" : "delivered";
    for (int i = 0; i < 200; ++i) {
        if (outbox_states(db_path) == want) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

}  // namespace

TEST_CASE("webhooks: each token event once, signed, without the bearer secret", "[server][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    temp_dir dir;
    receiver r;
    const std::string key = random_key();
    server_process s(dir.path + "/data", {"--webhook", r.url() + "," + secret_file(dir.path, {key})});
    const std::string admin = s.login();
    create_user(s, admin, "svc", "svc-password-1");
    const auto t = create_token(s, admin, user_identity("svc"));
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"name", "renamed"}}).status == 200);  // no event
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", false}}).status == 200);
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", false}}).status == 200);  // no change
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + t.id, admin).status == 200);
    const std::string svc = s.login("svc", "svc-password-1");
    REQUIRE(s.request("POST", "/v1/session/change-password", svc,
                      json{{"old_password", "svc-password-1"}, {"new_password", "svc-password-2"}})
                .status == 200);
    REQUIRE(all_delivered(dir.path + "/data/tokenauth.db", 4));
    const auto got = r.got();
    REQUIRE(got.size() == 4);
    CHECK(types(got) == std::vector<std::string>{"access_token.created", "access_token.disabled", "access_token.deleted",
                                                 "user.password_changed"});
    std::set<std::string> ids;
    const std::string secret_part = t.bearer.substr(10, 40);
    for (const auto& d : got) {
        INFO(d.body);
        CHECK(verifies(d, key));
        CHECK_FALSE(verifies(d, random_key()));
        CHECK(d.id.rfind("msg_", 0) == 0);
        ids.insert(d.id);
        CHECK(d.body.find(secret_part) == std::string::npos);
        CHECK(d.body.find("svc-password") == std::string::npos);
    }
    CHECK(ids.size() == 4);
    const json created = json::parse(got[0].body);
    CHECK(created.at("data").at("target").at("token_id") == t.id);
    // A body changed in transit no longer verifies.
    delivery forged = got[0];
    forged.body.replace(forged.body.find(t.id), t.id.size(), std::string(t.id.size(), '1'));
    CHECK_FALSE(verifies(forged, key));
    // Each event is in the audit trail with its webhook id.
    const std::string audit = test_server::read_file(dir.path + "/data/audit.log");
    for (const auto& id : ids) CHECK(audit.find(id) != std::string::npos);
}

TEST_CASE("webhooks: rotation, reuse, a report that disables, expiring and expired", "[server][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    temp_dir dir;
    receiver r;
    const std::string key = random_key();
    server_process s(dir.path + "/data", {"--webhook", r.url() + "," + secret_file(dir.path, {key}), "--expiry-warnings", "3s",
                                          "--expiry-warning-interval", "1"});
    const std::string admin = s.login();
    create_user(s, admin, "svc");
    const auto t = create_token(s, admin, user_identity("svc"));
    // The holder rotates its own token, then the old one is presented again: reuse.
    const auto rotated = s.request("POST", "/v1/auth/access-tokens/" + t.id + "/rotate", t.bearer, json::object());
    REQUIRE(rotated.status == 200);
    REQUIRE(s.request("POST", "/v1/auth/access-tokens/" + t.id + "/rotate", t.bearer, json::object()).status == 409);
    // A report of an enabled token disables it; a report of a disabled one changes nothing.
    const auto reported = create_token(s, admin, user_identity("admin"));
    for (int i = 0; i < 2; ++i)
        REQUIRE(s.request("POST", "/v1/auth/access-tokens/revoke", "", json{{"credentials", {reported.bearer}}}).status == 202);
    // One that expires in 4 s: warned within 3 s, then expired.
    const auto soon = s.request("POST", "/v1/auth/access-tokens/", admin,
                                json{{"user", user_identity("admin")},
                                     {"expiration_time", tokenauth::format_rfc3339(tokenauth::system_clock().now() + 4'000'000'000LL)}});
    REQUIRE(soon.status == 200);
    // The expiring and expired warnings come from the periodic look: wait for both rows.
    for (int i = 0; i < 200 && r.got().size() < 8; ++i) std::this_thread::sleep_for(100ms);
    REQUIRE(all_delivered(dir.path + "/data/tokenauth.db", 8));
    const auto got = r.got();
    CHECK(got.size() == 8);
    std::multiset<std::string> seen;
    for (const auto& d : got) {
        CHECK(verifies(d, key));
        CHECK(d.body.find(t.bearer.substr(10, 40)) == std::string::npos);
        seen.insert(json::parse(d.body).at("type").get<std::string>());
    }
    CHECK(seen.count("access_token.rotated") == 1);
    CHECK(seen.count("access_token.reuse_detected") == 1);
    CHECK(seen.count("access_token.reported") == 1);
    CHECK(seen.count("access_token.expiring") == 1);
    CHECK(seen.count("access_token.expired") == 1);
    CHECK(seen.count("access_token.created") == 3);  // svc's and admin's two (a successor is "rotated")
}

TEST_CASE("webhooks: two secrets during a rotation, each signature verifies", "[server][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    temp_dir dir;
    receiver r;
    const std::string old_key = random_key(), new_key = random_key();
    server_process s(dir.path + "/data", {"--webhook", r.url() + "," + secret_file(dir.path, {old_key, new_key})});
    create_token(s, s.login(), user_identity("admin"));
    const auto got = r.wait_for(1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].signature.find(' ') != std::string::npos);
    CHECK(verifies(got[0], old_key));
    CHECK(verifies(got[0], new_key));
}

TEST_CASE("webhooks: retried with backoff, kept across a restart, delivered once the receiver is back",
          "[server][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    temp_dir dir;
    const std::string key = random_key();
    const std::string secret = secret_file(dir.path, {key});
    const std::string data = dir.path + "/data";
    std::string first_id;
    created_token t;
    auto r = std::make_unique<receiver>();
    const int port = r->port();
    const std::vector<std::string> flags = {"--webhook", r->url() + "," + secret, "--webhook-retry-base-ms", "200"};
    {
        server_process s(data, flags);
        r->status = 503;
        t = create_token(s, s.login(), user_identity("admin"));
        const auto failed = r->wait_for(2);  // the first attempt and a retry, both refused
        REQUIRE(failed.size() >= 2);
        first_id = failed[0].id;
        CHECK(failed[1].id == first_id);  // a retry is the same message
        // The receiver goes away entirely; the server stops with the event undelivered.
        r.reset();
        REQUIRE(s.stop() == 0);
    }
    CHECK(outbox_states(data + "/tokenauth.db") == "pending");
    r = std::make_unique<receiver>(port);
    server_process s(data, flags);
    const auto got = r->wait_for(1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].id == first_id);  // the receiver deduplicates on it
    CHECK(verifies(got[0], key));
    for (int i = 0; i < 50 && outbox_states(data + "/tokenauth.db") != "delivered"; ++i) std::this_thread::sleep_for(100ms);
    CHECK(outbox_states(data + "/tokenauth.db") == "delivered");
}

TEST_CASE("webhooks: a receiver that keeps failing gets its delivery marked dead and others are not held up",
          "[server][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    temp_dir dir;
    receiver failing, working;
    failing.status = 500;
    const std::string key = random_key();
    const std::string secret = secret_file(dir.path, {key});
    server_process s(dir.path + "/data", {"--webhook", failing.url() + "," + secret, "--webhook", working.url() + "," + secret,
                                          "--webhook-retry-base-ms", "100", "--webhook-max-attempts", "3"});
    create_token(s, s.login(), user_identity("admin"));
    CHECK(working.wait_for(1).size() == 1);
    CHECK(failing.wait_for(3).size() == 3);
    std::string states;
    for (int i = 0; i < 50; ++i) {
        states = outbox_states(dir.path + "/data/tokenauth.db");
        if (states == "dead,delivered") break;
        std::this_thread::sleep_for(100ms);
    }
    CHECK(states == "dead,delivered");
    CHECK(failing.got().size() == 3);  // a dead row is never claimed again: no fourth attempt
    CHECK(s.log().find("\"webhook_dead\"") != std::string::npos);
}

TEST_CASE("webhooks over https: the receiver's certificate must verify, against --webhook-ca-file here",
          "[server][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    temp_dir dir;
    {
        server_process tls_maker(dir.path + "/certs");  // a self-signed certificate for 127.0.0.1
    }
    const std::string cert = dir.path + "/certs/tls-cert.pem", key = dir.path + "/certs/tls-key.pem";
    receiver r(0, cert, key);
    const std::string secret = secret_file(dir.path, {random_key()});
    {
        // The system's CAs do not know it: every attempt fails verification.
        server_process s(dir.path + "/untrusting", {"--webhook", r.url() + "," + secret, "--webhook-retry-base-ms", "100",
                                                    "--webhook-max-attempts", "2"});
        create_token(s, s.login(), user_identity("admin"));
        for (int i = 0; i < 50 && s.log().find("\"webhook_dead\"") == std::string::npos; ++i) std::this_thread::sleep_for(100ms);
        CHECK(s.log().find("certificate does not verify") != std::string::npos);
        CHECK(r.got().empty());
    }
    server_process s(dir.path + "/trusting", {"--webhook", r.url() + "," + secret, "--webhook-ca-file", cert});
    create_token(s, s.login(), user_identity("admin"));
    CHECK(r.wait_for(1).size() == 1);
}

TEST_CASE("webhooks: a redirect is not followed, a slow receiver times out, and its body is never logged",
          "[server][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    temp_dir dir;
    receiver moved, slow;
    moved.status = 307;
    slow.delay_ms = 2500;
    const std::string secret = secret_file(dir.path, {random_key()});
    server_process s(dir.path + "/data", {"--webhook", moved.url() + "," + secret, "--webhook", slow.url() + "," + secret,
                                          "--webhook-timeout", "1", "--webhook-max-attempts", "1"});
    create_token(s, s.login(), user_identity("admin"));
    REQUIRE(moved.wait_for(1).size() == 1);
    REQUIRE(slow.wait_for(1).size() == 1);
    for (int i = 0; i < 60 && outbox_states(dir.path + "/data/tokenauth.db") != "dead,dead"; ++i) std::this_thread::sleep_for(100ms);
    CHECK(outbox_states(dir.path + "/data/tokenauth.db") == "dead,dead");
    CHECK(moved.elsewhere == 0);
    const std::string log = s.log();
    CHECK(log.find("HTTP 307") != std::string::npos);
    CHECK(log.find("timed out") != std::string::npos);
    CHECK(log.find(moved.answer) == std::string::npos);
}

TEST_CASE("webhooks: configuration mistakes stop the server at start", "[server][webhooks]") {
    temp_dir dir;
    const std::string good = secret_file(dir.path, {random_key()});
    const auto start = [&](const std::string& spec) {
        const std::string cmd = std::string(TOKENAUTH_SERVER_BIN) + " --http --listen 127.0.0.1:0 --data-dir " + dir.path +
                                "/data --webhook '" + spec + "' > " + dir.path + "/out.txt 2>&1";
        const int rc = WEXITSTATUS(std::system(cmd.c_str()));
        return std::make_pair(rc, test_server::read_file(dir.path + "/out.txt"));
    };
    auto [rc, out] = start("http://192.0.2.1/hook," + good);
    CHECK(rc == 2);
    CHECK(out.find("must be https") != std::string::npos);
    std::tie(rc, out) = start("https://example.test/hook," + secret_file(dir.path, {random_key()}, 0644));
    CHECK(rc == 2);
    CHECK(out.find("readable by others") != std::string::npos);
    const std::string bad = dir.path + "/bad.secret";
    std::ofstream(bad) << "not-a-secret\n";
    ::chmod(bad.c_str(), 0600);
    std::tie(rc, out) = start("https://example.test/hook," + bad);
    CHECK(rc == 2);
    CHECK(out.find("whsec_") != std::string::npos);
    std::tie(rc, out) = start("ftp://example.test/hook," + good);
    CHECK(rc == 2);
    std::tie(rc, out) = start("https://example.test/hook");
    CHECK(rc == 2);
}
