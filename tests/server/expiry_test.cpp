// Expiry warnings: each threshold an enabled token crosses is one audit event, and its
// expiry one more, given once across a restart (the store records each).
#include <catch2/catch.hpp>
#include <tokenauth/time.hpp>

#include <chrono>
#include <cstdlib>
#include <set>
#include <sstream>
#include <thread>

#include "api_helpers.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;
using namespace std::chrono_literals;

namespace {

std::string in_seconds(int seconds) {
    return tokenauth::format_rfc3339(tokenauth::system_clock().now() + tokenauth::timestamp{seconds} * 1'000'000'000);
}

/// The audit events of one kind for one token, as JSON lines.
std::vector<json> events(const std::string& data, const std::string& event, const std::string& token_id) {
    std::vector<json> out;
    std::istringstream lines(test_server::read_file(data + "/audit.log"));
    for (std::string line; std::getline(lines, line);) {
        if (line.find("\"" + event + "\"") == std::string::npos || line.find(token_id) == std::string::npos) continue;
        out.push_back(json::parse(line));
    }
    return out;
}

/// Polls (every 100 ms, at most `limit`) until the token has an event of that kind.
bool wait_for(const std::string& data, const std::string& event, const std::string& token_id,
              std::chrono::milliseconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 100ms) {
        if (!events(data, event, token_id).empty()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

}  // namespace

TEST_CASE("expiry warnings: once per threshold and once at expiry, across a restart, never for disabled tokens",
          "[server][expiry]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    const std::vector<std::string> flags = {"--expiry-warnings", "5s,3s", "--expiry-warning-interval", "1"};
    std::string soon, quiet, later;
    {
        server_process s(data, flags);
        const std::string admin = s.login();
        create_user(s, admin, "svc");
        soon = create_token(s, admin, user_identity("svc"), in_seconds(7)).id;
        quiet = create_token(s, admin, user_identity("svc"), in_seconds(7)).id;
        REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + quiet, admin, json{{"enabled", false}}).status == 200);
        later = create_token(s, admin, user_identity("admin"), in_seconds(3600)).id;
        REQUIRE(wait_for(data, "token_expiring", soon, 10s));
        REQUIRE(s.stop() == 0);
    }
    server_process s(data, flags);
    REQUIRE(wait_for(data, "token_expired", soon, 15s));
    std::this_thread::sleep_for(1500ms);  // one more look: nothing is given twice

    const auto expiring = events(data, "token_expiring", soon);
    CHECK(expiring.size() <= 2);
    std::set<std::int64_t> thresholds;
    for (const json& e : expiring) {
        CHECK(e.at("target").at("user").is_string());
        CHECK(e.at("target").at("expiration_time").is_string());
        thresholds.insert(e.at("target").at("within_seconds").get<std::int64_t>());
    }
    CHECK(thresholds.size() == expiring.size());  // each threshold at most once
    CHECK(thresholds.count(5) + thresholds.count(3) == expiring.size());
    CHECK(events(data, "token_expired", soon).size() == 1);
    CHECK(events(data, "token_expiring", quiet).empty());
    CHECK(events(data, "token_expired", quiet).empty());
    CHECK(events(data, "token_expiring", later).empty());
}

TEST_CASE("expiry warnings: a new expiry warns again, and none warn with --expiry-warnings none", "[server][expiry]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    server_process s(data, {"--expiry-warnings", "1h", "--expiry-warning-interval", "1"});
    const std::string admin = s.login();
    const std::string id = create_token(s, admin, user_identity("admin"), in_seconds(1800)).id;
    REQUIRE(wait_for(data, "token_expiring", id, 10s));
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + id, admin, json{{"expiration_time", in_seconds(7200)}}).status ==
            200);
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + id, admin, json{{"expiration_time", in_seconds(1200)}}).status ==
            200);
    for (auto waited = 0ms; events(data, "token_expiring", id).size() < 2 && waited < 10s; waited += 100ms)
        std::this_thread::sleep_for(100ms);
    CHECK(events(data, "token_expiring", id).size() == 2);

    temp_dir other;
    server_process off(other.path + "/data", {"--expiry-warnings", "none", "--expiry-warning-interval", "1"});
    const std::string quiet = create_token(off, off.login(), user_identity("admin"), in_seconds(60)).id;
    std::this_thread::sleep_for(2500ms);
    CHECK(events(other.path + "/data", "token_expiring", quiet).empty());
    const std::string bad = std::string(TOKENAUTH_SERVER_BIN) + " --expiry-warnings 30d,soon --data-dir " + other.path +
                            "/bad 2>/dev/null";
    CHECK(WEXITSTATUS(std::system(bad.c_str())) == 2);
}
